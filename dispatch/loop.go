package dispatch

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Cycle is one pass of a daemon's poll loop: recover orphans, deliver
// messages, assign ready tasks, and so on. It may call Loop.SetPhase as it
// goes, so that a wedge says where it hangs, and Loop.SetQueue to report the
// queue. It should return when ctx is done; one that does not is exactly
// the wedge the loop's watchdog reports.
type Cycle func(ctx context.Context) error

// Clock tells the time. Tests inject a fake; nil selects the real clock.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options configure a Loop.
type Options struct {
	// Name identifies the loop (the metrics' loop label). Default "dispatch".
	Name string
	// Interval between the starts of two cycles. Required.
	Interval time.Duration
	// StaleThreshold overrides the default max(60s, 10 × Interval).
	StaleThreshold time.Duration
	// Logger receives panics, error runs and transitions. Default: none.
	Logger log.Logger
	// Clock stamps cycles and judges staleness. Default: the real clock.
	Clock Clock
	// WatchdogInterval is how often the watchdog judges the loop. Default 1s.
	WatchdogInterval time.Duration
	// StackDumpDir, when set, receives a goroutine dump file on each WEDGED
	// transition; otherwise the dump goes to the log.
	StackDumpDir string
}

// ErrRunning is returned by Start on a loop that is already running.
var ErrRunning = errors.New("dispatch loop is already running")

// Loop runs a Cycle every interval on one goroutine, one cycle at a time: a
// cycle that blocks blocks the loop, and ticks that fall due meanwhile are
// dropped, never run concurrently. It records each cycle's start before the
// cycle runs and its completion after it returns, errs or panics, and a
// watchdog goroutine of its own judges it independently of the loop
// goroutine, so a wedged cycle is still reported.
//
// A Loop is safe for concurrent use; its zero value is not usable.
type Loop struct {
	name      string
	interval  time.Duration
	threshold time.Duration
	cycle     Cycle
	clock     Clock
	logger    log.Logger
	watchdog  time.Duration
	stackDir  string

	// Written by the loop goroutine (and SetPhase/SetQueue), read by scrapes.
	started    atomic.Int64 // unix ns; 0 = never
	completed  atomic.Int64 // unix ns; 0 = never
	phase      atomic.Pointer[string]
	ready      atomic.Int64
	workers    atomic.Int64
	queueKnown atomic.Bool
	stats      *cycleStats

	transitions *Transitions
	checkMu     sync.Mutex // one Check at a time: judge and log in order

	mu           sync.Mutex
	running      bool
	runningSince time.Time
	cancel       context.CancelFunc
	done         chan struct{} // closed when the current run's goroutines have exited
}

// NewLoop returns a stopped loop that will run cycle.
func NewLoop(cycle Cycle, opts Options) (*Loop, error) {
	if cycle == nil {
		return nil, errors.New("dispatch loop: cycle is nil")
	}
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("dispatch loop: interval must be positive, got %s", opts.Interval)
	}
	if opts.StaleThreshold < 0 {
		return nil, fmt.Errorf("dispatch loop: stale threshold must not be negative, got %s", opts.StaleThreshold)
	}
	if opts.Name == "" {
		opts.Name = "dispatch"
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.WatchdogInterval <= 0 {
		opts.WatchdogInterval = time.Second
	}
	logger := log.With(opts.Logger, "loop", opts.Name)
	l := &Loop{
		name:      opts.Name,
		interval:  opts.Interval,
		threshold: opts.StaleThreshold,
		cycle:     cycle,
		clock:     opts.Clock,
		logger:    logger,
		watchdog:  opts.WatchdogInterval,
		stackDir:  opts.StackDumpDir,
		stats:     newCycleStats(),
	}
	l.transitions = NewTransitions(logger, l.dumpStacks)
	return l, nil
}

// Name is the loop's name.
func (l *Loop) Name() string { return l.name }

// SetPhase records what the cycle in flight is doing ("inbox", "assign", ...).
// A wedge is then reported with the phase it hangs in.
func (l *Loop) SetPhase(phase string) { l.phase.Store(&phase) }

// SetQueue reports the daemon's queue: ready tasks with no assignee and
// available workers. The queue is stuck when ready > 0 and workers == 0.
func (l *Loop) SetQueue(ready, workers int) {
	l.ready.Store(int64(ready))
	l.workers.Store(int64(workers))
	l.queueKnown.Store(true)
}

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
	l.running, l.runningSince, l.cancel, l.done = true, l.clock.Now(), cancel, done

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.run(runCtx, prev) }()
	go func() { defer wg.Done(); l.watch(runCtx) }()
	go func() {
		wg.Wait()
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
	done := l.done
	l.mu.Unlock()

	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dispatch loop %s: cycle in flight did not return: %w", l.name, ctx.Err())
	}
}

// run is the loop goroutine.
func (l *Loop) run(ctx context.Context, prev <-chan struct{}) {
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
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	failing := false
	for {
		failing = l.runCycle(ctx, failing)
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

// runCycle runs one cycle and records it. failing says whether the cycles
// before it errored; the result says whether this one did, so a run of
// errors is logged once when it starts and once when it ends.
func (l *Loop) runCycle(ctx context.Context, failing bool) bool {
	start := l.clock.Now()
	l.phase.Store(nil)
	// A start stamped strictly after the last completion keeps InFlight
	// exact even on a coarse (or fake) clock.
	startNs := max(start.UnixNano(), l.completed.Load()+1)
	l.started.Store(startNs)
	res, err := l.call(ctx)
	end := l.clock.Now()
	l.completed.Store(max(end.UnixNano(), startNs))
	l.stats.observe(res, end.Sub(start))

	switch {
	case err != nil && !failing:
		level.Warn(l.logger).Log("msg", "poll cycle failed; further failures are counted, not logged", "err", err)
	case err == nil && failing:
		level.Info(l.logger).Log("msg", "poll cycle succeeded again")
	}
	return err != nil
}

// call runs the cycle, turning a panic into ResultPanic: one bad cycle
// must not kill the loop.
func (l *Loop) call(ctx context.Context) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = ResultPanic, fmt.Errorf("panic: %v", r)
			level.Error(l.logger).Log("msg", "poll cycle panicked; the loop goes on", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if err := l.cycle(ctx); err != nil {
		return ResultError, err
	}
	return ResultOK, nil
}

// Health is a snapshot of the loop now, for Judge.
func (l *Loop) Health() Health {
	now := l.clock.Now()
	l.mu.Lock()
	running, since := l.running, l.runningSince
	l.mu.Unlock()

	h := Health{
		Now:                  now,
		LastCompleted:        unixNano(l.completed.Load()),
		LastStarted:          unixNano(l.started.Load()),
		Running:              running,
		RunningSince:         since,
		Interval:             l.interval,
		Threshold:            l.threshold,
		Observed:             true,
		QueueKnown:           l.queueKnown.Load(),
		ReadyUnassignedTasks: int(l.ready.Load()),
		AvailableWorkers:     int(l.workers.Load()),
	}
	if p := l.phase.Load(); p != nil && h.InFlight() {
		h.Phase = *p
	}
	return h
}

// Stats is a snapshot of the loop's cycle counters.
func (l *Loop) Stats() CycleStats { return l.stats.snapshot() }

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
