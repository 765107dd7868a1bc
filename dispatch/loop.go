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

// Clock tells the time twice: the wall time the loop stamps its cycles with
// (and exports), and a monotonic reading it measures ages with, so a step of
// the wall clock (NTP, a VM resumed) neither hides nor fakes a wedge. Tests
// inject a fake; nil selects the real clock.
type Clock interface {
	// Now is the wall time.
	Now() time.Time
	// Monotonic is the time elapsed since a fixed point, on a clock that
	// never steps.
	Monotonic() time.Duration
}

// realClock reads Go's wall and monotonic clocks.
type realClock struct{ base time.Time }

func (realClock) Now() time.Time { return time.Now() }

func (c realClock) Monotonic() time.Duration { return time.Since(c.base) }

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

	// The judging clock: wall time at creation plus monotonic time since.
	epochWall time.Time
	epochMono time.Duration

	// Written by the loop goroutine (and SetQueue), read by scrapes: one
	// lock, so a start and its completion, or ready tasks and workers, are
	// always read as one pair.
	stampMu sync.Mutex
	stamps  stamps
	phase   atomic.Pointer[string]
	// goroutine is the id of the goroutine running cycles, for the stack
	// dump at WEDGED (its stack first).
	goroutine atomic.Uint64
	stats     *cycleStats

	transitions *Transitions
	checkMu     sync.Mutex // one Check at a time: judge and log in order

	mu           sync.Mutex
	running      bool
	runningSince time.Duration // monotonic
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
		opts.Clock = realClock{base: time.Now()}
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
		epochWall: opts.Clock.Now(),
		epochMono: opts.Clock.Monotonic(),
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
	l.stampMu.Lock()
	l.stamps.ready, l.stamps.workers, l.stamps.queueKnown = ready, workers, true
	l.stampMu.Unlock()
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
	l.running, l.runningSince, l.cancel, l.done = true, l.clock.Monotonic(), cancel, done

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
	l.goroutine.Store(currentGoroutine())
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
	l.phase.Store(nil)
	startWall, startMono := l.read()
	l.stampMu.Lock()
	l.stamps.start(startWall, startMono)
	l.stampMu.Unlock()
	res, err := l.call(ctx)
	endWall, endMono := l.read()
	l.stampMu.Lock()
	l.stamps.complete(endWall, endMono)
	l.stampMu.Unlock()
	l.stats.observe(res, endMono-startMono)

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

// Health is a snapshot of the loop now, for Judge. Its judging clock is the
// loop's monotonic one (anchored at the wall time the loop was created);
// ReportedStarted and ReportedCompleted are the wall stamps.
func (l *Loop) Health() Health {
	l.mu.Lock()
	running, since := l.running, l.runningSince
	l.mu.Unlock()
	l.stampMu.Lock()
	st := l.stamps
	l.stampMu.Unlock()
	now := l.clock.Monotonic()

	h := Health{
		Now:                  l.judging(now),
		Running:              running,
		Interval:             l.interval,
		Threshold:            l.threshold,
		Observed:             true,
		QueueKnown:           st.queueKnown,
		ReadyUnassignedTasks: st.ready,
		AvailableWorkers:     st.workers,
	}
	if running {
		h.RunningSince = l.judging(since)
	}
	if st.started {
		h.LastStarted, h.ReportedStarted = l.judging(time.Duration(st.startedMono)), time.Unix(0, st.startedWall)
	}
	if st.completed {
		h.LastCompleted, h.ReportedCompleted = l.judging(time.Duration(st.completedMono)), time.Unix(0, st.completedWall)
	}
	if p := l.phase.Load(); p != nil && h.InFlight() {
		h.Phase = *p
	}
	return h
}

// read reads both clocks: once for the real clock, whose time.Now carries
// both readings.
func (l *Loop) read() (time.Time, time.Duration) {
	if c, ok := l.clock.(realClock); ok {
		now := time.Now()
		return now, now.Sub(c.base)
	}
	return l.clock.Now(), l.clock.Monotonic()
}

// judging places a monotonic reading on the judging clock.
func (l *Loop) judging(mono time.Duration) time.Time { return l.epochWall.Add(mono - l.epochMono) }

// StuckSince is when the watchdog saw the queue turn stuck; zero while it
// is not stuck.
func (l *Loop) StuckSince() time.Time { return l.transitions.StuckSince() }

// Stats is a snapshot of the loop's cycle counters.
func (l *Loop) Stats() CycleStats { return l.stats.snapshot() }

// stamps are a loop's latest cycle start and completion, on the wall clock
// (for export) and the monotonic one (for ages), and its queue.
type stamps struct {
	started, completed                                     bool
	startedWall, startedMono, completedWall, completedMono int64 // ns
	ready, workers                                         int
	queueKnown                                             bool
}

// start records a cycle's start, strictly after the last completion on both
// clocks, so InFlight stays exact even on a coarse (or fake) clock.
func (s *stamps) start(wall time.Time, mono time.Duration) {
	s.startedWall, s.startedMono = wall.UnixNano(), int64(mono)
	if s.completed {
		s.startedWall = max(s.startedWall, s.completedWall+1)
		s.startedMono = max(s.startedMono, s.completedMono+1)
	}
	s.started = true
}

// complete records the completion of the cycle started last, no earlier
// than its start.
func (s *stamps) complete(wall time.Time, mono time.Duration) {
	s.completedWall = max(wall.UnixNano(), s.startedWall)
	s.completedMono = max(int64(mono), s.startedMono)
	s.completed = true
}
