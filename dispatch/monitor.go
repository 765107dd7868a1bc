package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Clock tells the time twice: the wall time the loop stamps its cycles with
// (and exports), and a monotonic reading it measures ages with, so a step of
// the wall clock (NTP, a VM resumed) neither hides nor fakes a wedge. Tests
// inject a fake (dispatchtest.Clock); nil selects the real clock.
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

// Options configure a Monitor, or a Loop (which runs on one).
type Options struct {
	// Name identifies the loop (the metrics' loop label). Default "dispatch".
	Name string
	// Interval between the starts of two cycles. Required.
	Interval time.Duration
	// StaleThreshold overrides the default max(60s, 10 × Interval). It
	// must exceed Interval: no cycle completes within a shorter one even
	// when the loop is healthy, so every cycle would be judged a wedge.
	StaleThreshold time.Duration
	// Logger receives panics, error runs and transitions (WEDGED, STUCK,
	// ...), each with loop=Name. Default: none. A daemon on log/slog passes
	// SlogLogger(its *slog.Logger).
	Logger log.Logger
	// Clock stamps cycles and judges staleness. Default: the real clock.
	Clock Clock
	// WatchdogInterval is how often the watchdog judges the loop. Default 1s.
	WatchdogInterval time.Duration
	// StackDumpDir is where a file of every goroutine's stack (the loop's
	// first) is written on each WEDGED transition, named in the log line
	// beside WEDGED: wedged-NAME-TIME.txt, at most 1 MiB each, the newest
	// 10 of a loop kept. Unset, it is dispatch-stacks-UID under the
	// system's temporary directory (os.TempDir: $TMPDIR, else /tmp), created
	// 0700. Only when no file can be written do the stacks go to the log,
	// cut to 16 KiB.
	StackDumpDir string
}

// Monitor watches a poll loop that the daemon runs itself (a ticker, a
// scheduler, a loop of its own): the daemon marks each cycle's start and end
// on it, the phase and the queue when it has them, and when the loop starts
// and stops. A watchdog goroutine of the monitor's own judges the loop while
// it is started, logging each transition once (WEDGED with a goroutine
// stack dump, RECOVERED, STUCK, RESUMED), independently of the loop's
// goroutine, so a cycle that never ends is still reported; a LoopCollector
// (package collector) exports it at scrape time.
//
//	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
//	mon.Started(ctx) // ctx: the loop's own; the watchdog runs until it ends or Stopped
//	defer mon.Stopped()
//	for range ticker.C {
//		mon.Begin()
//		mon.End(poll(ctx))
//	}
//
// A Loop runs a Cycle on a monitor of its own (Loop.Monitor). One cycle runs
// at a time: Begin while a cycle is in flight starts a new one in its place.
// A Monitor is safe for concurrent use; its zero value is not usable.
type Monitor struct {
	name      string
	interval  time.Duration
	threshold time.Duration
	clock     Clock
	logger    log.Logger
	watchdog  time.Duration
	stackDir  string

	// The judging clock: wall time at creation plus monotonic time since.
	epochWall time.Time
	epochMono time.Duration

	// Written by the loop's goroutine (and SetQueue), read by scrapes: one
	// lock, so a start and its completion, or ready tasks and workers, are
	// always read as one pair.
	stampMu sync.Mutex
	stamps  stamps
	cycle   cycleState
	phase   atomic.Pointer[string]
	// goroutine is the id of the goroutine that began the cycle last, for
	// the stack dump at WEDGED (its stack first).
	goroutine atomic.Uint64
	// beginner is the goroutine of the run's first Begin (0: none yet):
	// reading a goroutine's id costs microseconds, so Begin reads it once
	// per run.
	beginner atomic.Uint64
	stats    *cycleStats

	transitions *Transitions
	checkMu     sync.Mutex // one Check at a time: judge and log in order

	mu           sync.Mutex
	running      bool
	runningSince time.Duration // monotonic
	run          *monitorRun   // the current run's watchdog; nil when stopped
}

// cycleState is what the monitor knows of the cycle in flight and the
// cycles before it, under stampMu.
type cycleState struct {
	runCtx   context.Context // the last run's (Started's) context; nil: never started
	inFlight bool
	ctx      context.Context // runCtx when the cycle in flight began
	failing  bool            // the cycles before erred: a run of errors is logged once
}

// monitorRun is one run of the loop, between Started and Stopped (or its
// context's end).
type monitorRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the watchdog has exited
}

// NewMonitor returns a monitor of a stopped loop.
func NewMonitor(opts Options) (*Monitor, error) {
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("dispatch loop: interval must be positive, got %s", opts.Interval)
	}
	if opts.StaleThreshold < 0 {
		return nil, fmt.Errorf("dispatch loop: stale threshold must not be negative, got %s", opts.StaleThreshold)
	}
	if opts.StaleThreshold > 0 && opts.StaleThreshold <= opts.Interval {
		return nil, fmt.Errorf("dispatch loop: stale threshold %s must exceed the interval %s: "+
			"no cycle completes within it even when the loop is healthy, so every cycle would be judged a wedge "+
			"(leave it unset for max(60s, 10 × interval))", opts.StaleThreshold, opts.Interval)
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
	m := &Monitor{
		name:      opts.Name,
		interval:  opts.Interval,
		threshold: opts.StaleThreshold,
		clock:     opts.Clock,
		logger:    logger,
		watchdog:  opts.WatchdogInterval,
		stackDir:  opts.StackDumpDir,
		stats:     newCycleStats(),
		epochWall: opts.Clock.Now(),
		epochMono: opts.Clock.Monotonic(),
	}
	m.transitions = NewTransitions(logger, m.dumpStacks)
	return m, nil
}

// Name is the loop's name.
func (m *Monitor) Name() string { return m.name }

// Monitor returns m itself, so that a Monitor and a Loop can be handed
// alike to whatever reads a monitor (collector.NewLoopCollector).
func (m *Monitor) Monitor() *Monitor { return m }

// Started marks the loop started and starts the watchdog. ctx is the
// loop's own context, the one its cycles run under: the run ends when ctx
// is done or at Stopped, and a cycle that then ends with context.Canceled
// was cancelled by the shutdown, counted ok. Started on a started loop
// starts a new run.
func (m *Monitor) Started(ctx context.Context) {
	watchCtx, cancel := context.WithCancel(ctx)
	r := &monitorRun{cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	prev := m.run
	m.run, m.running, m.runningSince = r, true, m.clock.Monotonic()
	m.beginner.Store(0)
	m.stampMu.Lock()
	m.cycle.runCtx = ctx
	m.stampMu.Unlock()
	m.mu.Unlock()
	if prev != nil {
		prev.cancel()
		<-prev.done
	}
	go func() {
		defer close(r.done)
		m.watch(watchCtx)
		m.mu.Lock()
		if m.run == r { // ctx ended the run without Stopped
			m.stopped()
		}
		m.mu.Unlock()
	}()
}

// Stopped marks the loop stopped and stops the watchdog, waiting for it
// to exit. A cycle in flight is still judged from its start: a stop is not
// a recovery, only a process restart clears a wedge.
func (m *Monitor) Stopped() {
	m.mu.Lock()
	r := m.run
	m.stopped()
	m.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// stopped marks the loop stopped; m.mu is held. The run's context stays:
// a cycle begun as the loop shuts down (its ticker and ctx.Done ready at
// once) and cancelled by that context was shut down, not failed.
func (m *Monitor) stopped() {
	m.run, m.running = nil, false
}

// Begin marks the start of a cycle, before any of its work, on the
// goroutine that runs it. It clears the phase. The stack dump at WEDGED
// shows first the goroutine of the run's first Begin: its id is read once
// per run (Started starts one), as reading it costs microseconds and a
// loop's cycles usually share a goroutine.
func (m *Monitor) Begin() {
	g := m.beginner.Load()
	if g == 0 {
		g = currentGoroutine()
		m.beginner.Store(g)
	}
	m.begin(g)
}

// End marks the end of the cycle begun last: ok when err is nil, else an
// error, logged when a run of errors starts and ends (the errors between
// are counted, not logged). An err that is context.Canceled, the run's
// context (Started's ctx) being done, is the shutdown cancelling the
// cycle: ok, not logged. End with no cycle in flight does nothing.
func (m *Monitor) End(err error) {
	if err != nil {
		m.EndWith(ResultError, err)
		return
	}
	m.EndWith(ResultOK, nil)
}

// EndWith marks the end of the cycle begun last with its result; err says
// why it erred or panicked. A daemon that recovers its cycles' panics
// calls EndWith(ResultPanic, err) (a Loop does so itself).
func (m *Monitor) EndWith(res Result, err error) {
	wall, mono := m.read()
	m.stampMu.Lock()
	c := m.cycle
	if !c.inFlight {
		m.stampMu.Unlock()
		return
	}
	started := time.Duration(m.stamps.startedMono)
	m.stamps.complete(wall, mono)
	m.cycle.inFlight, m.cycle.ctx = false, nil
	shutdown := res == ResultError && c.ctx != nil && c.ctx.Err() != nil && errors.Is(err, context.Canceled)
	if shutdown {
		res = ResultOK
	} else {
		m.cycle.failing = res != ResultOK
	}
	m.stampMu.Unlock()
	m.stats.observe(res, mono-started)

	switch {
	case shutdown:
	case res != ResultOK && !c.failing:
		level.Warn(m.logger).Log("msg", "poll cycle failed; further failures are counted, not logged", "err", err)
	case res == ResultOK && c.failing:
		level.Info(m.logger).Log("msg", "poll cycle succeeded again")
	}
}

// begin marks a cycle's start on goroutine g.
func (m *Monitor) begin(g uint64) {
	m.phase.Store(nil)
	m.goroutine.Store(g)
	wall, mono := m.read()
	m.stampMu.Lock()
	m.stamps.start(wall, mono)
	m.cycle.inFlight, m.cycle.ctx = true, m.cycle.runCtx
	m.stampMu.Unlock()
}

// SetPhase records what the cycle in flight is doing ("inbox", "assign", ...).
// A wedge is then reported with the phase it hangs in.
func (m *Monitor) SetPhase(phase string) { m.phase.Store(&phase) }

// SetQueue reports the daemon's queue: ready tasks with no assignee and
// available workers. The queue is stuck when ready > 0 and workers == 0.
func (m *Monitor) SetQueue(ready, workers int) {
	m.stampMu.Lock()
	m.stamps.ready, m.stamps.workers, m.stamps.queueKnown = ready, workers, true
	m.stampMu.Unlock()
}

// Health is a snapshot of the loop now, for Judge. Its judging clock is the
// monitor's monotonic one (anchored at the wall time it was created);
// ReportedStarted and ReportedCompleted are the wall stamps.
func (m *Monitor) Health() Health {
	m.mu.Lock()
	running, since := m.running, m.runningSince
	m.mu.Unlock()
	m.stampMu.Lock()
	st := m.stamps
	m.stampMu.Unlock()
	now := m.clock.Monotonic()

	h := Health{
		Now:                  m.judging(now),
		Running:              running,
		Interval:             m.interval,
		Threshold:            m.threshold,
		Observed:             true,
		QueueKnown:           st.queueKnown,
		ReadyUnassignedTasks: st.ready,
		AvailableWorkers:     st.workers,
	}
	if running {
		h.RunningSince = m.judging(since)
	}
	if st.started {
		h.LastStarted, h.ReportedStarted = m.judging(time.Duration(st.startedMono)), time.Unix(0, st.startedWall)
	}
	if st.completed {
		h.LastCompleted, h.ReportedCompleted = m.judging(time.Duration(st.completedMono)), time.Unix(0, st.completedWall)
	}
	if p := m.phase.Load(); p != nil && h.InFlight() {
		h.Phase = *p
	}
	return h
}

// Liveness answers a liveness probe in process: a non-nil error, saying
// why, exactly when restarting the process is the fix (the loop is
// wedged). It reads the same decision as the metrics, the logs and the
// watchdog (Assess); unlike the sidecar's /-/target/healthy it keeps no
// restart budget, so a process whose restarts do not help is restarted
// again (the kubelet's back-off spaces them). Serve it on the daemon's own
// mux:
//
//	http.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) {
//		if err := mon.Liveness(); err != nil {
//			http.Error(w, err.Error(), http.StatusServiceUnavailable)
//		}
//	})
func (m *Monitor) Liveness() error {
	if _, a := m.Assess(); a.Restart {
		return fmt.Errorf("dispatch loop %s wedged, restart the process: %s", m.name, a.Reason)
	}
	return nil
}

// read reads both clocks: once for the real clock, whose time.Now carries
// both readings.
func (m *Monitor) read() (time.Time, time.Duration) {
	if c, ok := m.clock.(realClock); ok {
		now := time.Now()
		return now, now.Sub(c.base)
	}
	return m.clock.Now(), m.clock.Monotonic()
}

// judging places a monotonic reading on the judging clock.
func (m *Monitor) judging(mono time.Duration) time.Time { return m.epochWall.Add(mono - m.epochMono) }

// StuckSince is when the watchdog saw the queue turn stuck; zero while it
// is not stuck.
func (m *Monitor) StuckSince() time.Time { return m.transitions.StuckSince() }

// Stats is a snapshot of the loop's cycle counters.
func (m *Monitor) Stats() CycleStats { return m.stats.snapshot() }

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
