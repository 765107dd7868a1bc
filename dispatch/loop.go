package dispatch

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-kit/log/level"
)

// Cycle is one pass of a daemon's poll loop: recover orphans, deliver
// messages, assign ready tasks, and so on. It may call Loop.SetPhase as it
// goes, so that a wedge says where it hangs, and Loop.SetQueue to report the
// queue. It should return when ctx is done; one that does not is exactly
// the wedge the loop's watchdog reports. An error that is ctx's own
// (context.Canceled at Stop) is the shutdown, counted ok.
type Cycle func(ctx context.Context) error

// ErrRunning is returned by Start on a loop that is already running.
var ErrRunning = errors.New("dispatch loop is already running")

// Loop runs a Cycle every interval on one goroutine, one cycle at a time: a
// cycle that blocks blocks the loop, and ticks that fall due meanwhile are
// dropped, never run concurrently. It marks each cycle's start before the
// cycle runs and its end after it returns, errs or panics, on a Monitor of
// its own (Loop.Monitor), whose watchdog judges it independently of the
// loop goroutine, so a wedged cycle is still reported. A daemon that keeps
// its own loop uses a Monitor directly instead.
//
// A Loop is safe for concurrent use; its zero value is not usable.
type Loop struct {
	mon   *Monitor
	cycle Cycle

	mu      sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the current run's goroutine has exited
}

// NewLoop returns a stopped loop that will run cycle.
func NewLoop(cycle Cycle, opts Options) (*Loop, error) {
	if cycle == nil {
		return nil, errors.New("dispatch loop: cycle is nil")
	}
	mon, err := NewMonitor(opts)
	if err != nil {
		return nil, err
	}
	return &Loop{mon: mon, cycle: cycle}, nil
}

// Monitor is the monitor the loop marks its cycles on: what a collector
// reads, and where Liveness answers.
func (l *Loop) Monitor() *Monitor { return l.mon }

// Name is the loop's name.
func (l *Loop) Name() string { return l.mon.Name() }

// SetPhase records what the cycle in flight is doing ("inbox", "assign", ...).
// A wedge is then reported with the phase it hangs in.
func (l *Loop) SetPhase(phase string) { l.mon.SetPhase(phase) }

// SetQueue reports the daemon's queue: ready tasks with no assignee and
// available workers. The queue is stuck when ready > 0 and workers == 0.
func (l *Loop) SetQueue(ready, workers int) { l.mon.SetQueue(ready, workers) }

// Health is a snapshot of the loop now, for Judge (Monitor.Health).
func (l *Loop) Health() Health { return l.mon.Health() }

// Check judges the loop now and logs any transition (Monitor.Check).
func (l *Loop) Check() Assessment { return l.mon.Check() }

// Assess reads the loop and decides, without logging (Monitor.Assess).
func (l *Loop) Assess() (Health, Assessment) { return l.mon.Assess() }

// StuckSince is when the watchdog saw the queue turn stuck; zero while it
// is not stuck.
func (l *Loop) StuckSince() time.Time { return l.mon.StuckSince() }

// Stats is a snapshot of the loop's cycle counters.
func (l *Loop) Stats() CycleStats { return l.mon.Stats() }

// Start starts the loop and its watchdog; the first cycle runs at once. The
// loop runs until Stop or until ctx is done. If a cycle of an earlier run is
// still in flight (Stop gave up waiting for it), the new run waits for it
// before its first cycle, as smithy's guard does: a wedge survives a stop
// and start, and only a process restart clears it.
func (l *Loop) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		return ErrRunning
	}
	runCtx, cancel := context.WithCancel(ctx)
	prev, done := l.done, make(chan struct{})
	l.running, l.cancel, l.done = true, cancel, done
	l.mon.Started(runCtx)

	go func() {
		l.run(runCtx, prev)
		l.mu.Lock()
		if l.done == done { // ctx ended the run without Stop
			l.running = false
		}
		l.mu.Unlock()
		close(done)
	}()
	return nil
}

// Stop stops the loop and waits, until ctx is done, for the cycle in flight.
// Make ctx at shutdown, with the time the cycle may take to return:
//
//	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//	defer cancel()
//	err := loop.Stop(ctx)
//
// It returns ctx's error if that cycle has not returned by then; the loop is
// stopped anyway and the cycle's goroutine exits when the cycle returns.
func (l *Loop) Stop(ctx context.Context) error {
	l.mu.Lock()
	if !l.running {
		l.mu.Unlock()
		return nil
	}
	l.running = false
	l.cancel()
	l.mon.Stopped()
	done := l.done
	l.mu.Unlock()

	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dispatch loop %s: cycle in flight did not return: %w", l.mon.Name(), ctx.Err())
	}
}

// run is the loop goroutine.
func (l *Loop) run(ctx context.Context, prev <-chan struct{}) {
	g := currentGoroutine()
	if prev != nil {
		// Never run beside a cycle of an earlier run; wait for it even when
		// stopped, so the run's done channel means "no cycle in flight".
		defer func() { <-prev }()
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	ticker := time.NewTicker(l.mon.interval)
	defer ticker.Stop()
	for {
		l.runCycle(ctx, g)
		select { // drop the tick that fell due during a long cycle
		case <-ticker.C:
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// runCycle runs one cycle on goroutine g and marks it on the monitor.
func (l *Loop) runCycle(ctx context.Context, g uint64) {
	l.mon.begin(g)
	res, err := l.call(ctx)
	l.mon.EndWith(res, err)
}

// call runs the cycle, turning a panic into ResultPanic: one bad cycle
// must not kill the loop.
func (l *Loop) call(ctx context.Context) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = ResultPanic, fmt.Errorf("panic: %v", r)
			level.Error(l.mon.logger).Log("msg", "poll cycle panicked; the loop goes on", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if err := l.cycle(ctx); err != nil {
		return ResultError, err
	}
	return ResultOK, nil
}
