package dispatch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// wedgeable is a cycle that blocks, ignoring its context like a hung await,
// while wedged is set; it counts its runs and how many ran at once.
type wedgeable struct {
	loop       *Loop
	runs       atomic.Int64
	concurrent atomic.Int64
	maxConc    atomic.Int64
	wedged     atomic.Bool
	release    chan struct{} // closed to let a wedged cycle return
	entered    chan struct{}
}

// unwedge lets the wedged cycle return and later cycles run through.
func (w *wedgeable) unwedge() {
	w.wedged.Store(false)
	close(w.release)
}

func (w *wedgeable) cycle(ctx context.Context) error {
	n := w.concurrent.Add(1)
	defer w.concurrent.Add(-1)
	if n > w.maxConc.Load() {
		w.maxConc.Store(n)
	}
	w.runs.Add(1)
	w.loop.SetPhase("inbox")
	if w.wedged.Load() {
		select {
		case w.entered <- struct{}{}:
		default:
		}
		<-w.release
	}
	return nil
}

func newWedgeable(t *testing.T, opts Options) *wedgeable {
	t.Helper()
	w := &wedgeable{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	w.wedged.Store(true)
	if opts.Interval == 0 {
		opts.Interval = time.Millisecond
	}
	if opts.WatchdogInterval == 0 {
		opts.WatchdogInterval = time.Hour // tests call Check themselves
	}
	l, err := NewLoop(w.cycle, testOptions(t, opts))
	require.NoError(t, err)
	w.loop = l
	return w
}

// testOptions gives a test's loop a stack dump directory under t.TempDir
// unless it has one: a test writes nothing elsewhere.
func testOptions(t *testing.T, opts Options) Options {
	t.Helper()
	if opts.StackDumpDir == "" {
		opts.StackDumpDir = t.TempDir()
	}
	return opts
}

func TestLoopRecordsEachCycle(t *testing.T) {
	t.Parallel()
	var loop *Loop
	var sawInFlight atomic.Bool
	var cycles atomic.Int64
	loop, err := NewLoop(func(ctx context.Context) error {
		h := loop.Health()
		sawInFlight.Store(h.InFlight() && !h.LastStarted.IsZero())
		cycles.Add(1)
		return nil
	}, testOptions(t, Options{Interval: time.Millisecond, WatchdogInterval: time.Hour}))
	require.NoError(t, err)

	require.NoError(t, loop.Start(context.Background()))
	require.Eventually(t, func() bool { return cycles.Load() >= 3 }, 5*time.Second, time.Millisecond, "three cycles")
	require.NoError(t, loop.Stop(context.Background()))

	assert.True(t, sawInFlight.Load(), "the start is recorded before the cycle's work")
	h := loop.Health()
	assert.False(t, h.InFlight(), "the completion is recorded after it")
	assert.False(t, h.Running)
	assert.False(t, h.LastCompleted.Before(h.LastStarted))
	s := loop.Stats()
	assert.Equal(t, uint64(cycles.Load()), s.Results[ResultOK])
	assert.Equal(t, s.Results[ResultOK], s.Count)
	assert.Equal(t, s.Count, s.Buckets[60])
}

func TestLoopCountsErrorsAndPanicsAndGoesOn(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	var n atomic.Int64
	loop, err := NewLoop(func(ctx context.Context) error {
		switch n.Add(1) {
		case 1:
			panic("boom")
		case 2, 3:
			return errors.New("store unavailable")
		}
		return nil
	}, testOptions(t, Options{Interval: time.Millisecond, WatchdogInterval: time.Hour, Logger: logs.Logger()}))
	require.NoError(t, err)

	require.NoError(t, loop.Start(context.Background()))
	require.Eventually(t, func() bool { return loop.Stats().Results[ResultOK] >= 2 }, 5*time.Second, time.Millisecond, "ok cycles after the panic")
	require.NoError(t, loop.Stop(context.Background()))

	s := loop.Stats()
	assert.Equal(t, uint64(1), s.Results[ResultPanic])
	assert.Equal(t, uint64(2), s.Results[ResultError])
	assert.Equal(t, 1, logs.Count("poll cycle panicked"))
	assert.Contains(t, logs.String(), "boom")
	assert.Equal(t, 1, logs.Count("poll cycle failed"), "a run of failures logs once")
	assert.Equal(t, 1, logs.Count("poll cycle succeeded again"))
}

func TestLoopWedgeReportedOnceWithPhaseAndStacks(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	var logs dispatchtest.Logs
	dir := t.TempDir()
	w := newWedgeable(t, Options{Name: "main", Clock: clock, Logger: logs.Logger(), StackDumpDir: dir})
	require.NoError(t, w.loop.Start(context.Background()))
	<-w.entered

	assert.False(t, w.loop.Check().Stale, "just started")
	clock.Add(61 * time.Second)
	v := w.loop.Check()
	assert.True(t, v.Stale)
	assert.Equal(t, "inbox", v.Verdict.Phase)
	for range 3 {
		w.loop.Check()
	}
	assert.Equal(t, 1, logs.Count("WEDGED: no cycle completed for 1m1s; in phase inbox"), logs.String())
	require.Eventually(t, func() bool { return logs.Count(`msg="goroutine stacks at WEDGED written"`) == 1 }, 5*time.Second, time.Millisecond, "dump written")

	dumps, err := filepath.Glob(filepath.Join(dir, "wedged-main-*.txt"))
	require.NoError(t, err)
	require.Len(t, dumps, 1)
	stacks, err := os.ReadFile(dumps[0])
	require.NoError(t, err)
	assert.Contains(t, string(stacks), "(*wedgeable).cycle", "the dump shows where the cycle hangs")

	w.unwedge()
	require.Eventually(t, func() bool { return !w.loop.Health().InFlight() }, 5*time.Second, time.Millisecond, "cycle completes")
	assert.False(t, w.loop.Check().Stale)
	w.loop.Check()
	assert.Equal(t, 1, logs.Count("RECOVERED"))
	require.NoError(t, w.loop.Stop(context.Background()))
}

func TestLoopStacksGoToTheLogWhenNoFileCanBeWritten(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	var logs dispatchtest.Logs
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	w := newWedgeable(t, Options{Clock: clock, Logger: logs.Logger(), StackDumpDir: filepath.Join(notADir, "stacks")})
	require.NoError(t, w.loop.Start(context.Background()))
	<-w.entered
	clock.Add(2 * time.Minute)
	w.loop.Check()
	// The watchdog's own first check may be the one that saw the wedge.
	require.Eventually(t, func() bool { return logs.Count("could not write goroutine stacks; the first of them follow") == 1 }, 5*time.Second, time.Millisecond, "stacks logged")
	assert.Contains(t, logs.String(), "(*wedgeable).cycle")
	w.unwedge()
	require.NoError(t, w.loop.Stop(context.Background()))
}

// A wedged cycle outlasts a stop (Stop gives up at its context) and a
// start: the new run waits for the hung cycle, and two cycles never run at
// once.
func TestLoopNewRunWaitsForTheWedgedCycle(t *testing.T) {
	t.Parallel()
	w := newWedgeable(t, Options{})
	require.NoError(t, w.loop.Start(context.Background()))
	<-w.entered

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := w.loop.Stop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "Stop waits for the cycle in flight, until ctx is done")
	assert.False(t, w.loop.Health().Running)

	require.NoError(t, w.loop.Start(context.Background()))
	assert.ErrorIs(t, w.loop.Start(context.Background()), ErrRunning)
	time.Sleep(20 * time.Millisecond) // twenty intervals
	h := w.loop.Health()
	assert.True(t, h.Running)
	assert.True(t, h.InFlight(), "the old cycle is still in flight")
	assert.Equal(t, int64(1), w.runs.Load(), "the new run waits for the wedged cycle")

	w.unwedge()
	require.Eventually(t, func() bool { return w.runs.Load() >= 3 }, 5*time.Second, time.Millisecond, "cycles resume")
	require.NoError(t, w.loop.Stop(context.Background()))
	assert.Equal(t, int64(1), w.maxConc.Load(), "never two cycles at once")
}

func TestLoopStopsWithItsContext(t *testing.T) {
	t.Parallel()
	loop, err := NewLoop(func(context.Context) error { return nil }, testOptions(t, Options{Interval: time.Millisecond}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, loop.Start(ctx))
	cancel()
	require.Eventually(t, func() bool { return !loop.Health().Running }, 5*time.Second, time.Millisecond, "loop stops when its context ends")
	require.NoError(t, loop.Stop(context.Background()))
	require.NoError(t, loop.Start(context.Background()), "and can start again")
	require.NoError(t, loop.Stop(context.Background()))
}

func TestLoopQueueAndStuckTransitions(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	loop, err := NewLoop(func(context.Context) error { return nil }, testOptions(t, Options{Interval: time.Hour, Logger: logs.Logger()}))
	require.NoError(t, err)
	assert.False(t, loop.Health().QueueKnown)

	loop.SetQueue(3, 0)
	for range 3 {
		assert.True(t, loop.Check().Verdict.Stuck)
	}
	loop.SetQueue(3, 2)
	loop.Check()
	loop.Check()
	assert.Equal(t, 1, logs.Count("STUCK: 3 task(s) ready, no available workers"), logs.String())
	assert.Equal(t, 1, logs.Count("RESUMED"), logs.String())
}

func TestNewLoopRejectsBadOptions(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	_, err := NewLoop(nil, Options{Interval: time.Second})
	assert.Error(t, err)
	_, err = NewLoop(ok, Options{})
	assert.ErrorContains(t, err, "interval must be positive")
	_, err = NewLoop(ok, Options{Interval: time.Second, StaleThreshold: -time.Second})
	assert.ErrorContains(t, err, "must not be negative")
	l, err := NewLoop(ok, Options{Interval: time.Second})
	require.NoError(t, err)
	assert.Equal(t, "dispatch", l.Name())
	assert.Equal(t, time.Minute, Judge(l.Health()).Threshold)
}

// A threshold the loop cannot meet even when healthy (500ms for a 2s
// interval) would log WEDGED, with a stack dump, every cycle: refused,
// saying why, by NewLoop and NewMonitor alike.
func TestStaleThresholdNotAboveTheIntervalIsRefused(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	for _, threshold := range []time.Duration{500 * time.Millisecond, 2 * time.Second} {
		opts := Options{Interval: 2 * time.Second, StaleThreshold: threshold}
		_, err := NewLoop(ok, opts)
		assert.ErrorContains(t, err, "stale threshold "+threshold.String()+" must exceed the interval 2s")
		_, err = NewMonitor(opts)
		assert.ErrorContains(t, err, "must exceed the interval")
	}
	_, err := NewMonitor(Options{Interval: 2 * time.Second, StaleThreshold: 2*time.Second + time.Millisecond})
	assert.NoError(t, err)
}

// A wedged cycle holds the loop through a stop and a start: the verdict
// stays WEDGED (liveness: restart), aged from the hung cycle's start, and
// nothing logs a recovery.
func TestLoopWedgeStaysWedgedThroughStopAndStart(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	var logs dispatchtest.Logs
	w := newWedgeable(t, Options{Clock: clock, Logger: logs.Logger()})
	require.NoError(t, w.loop.Start(context.Background()))
	<-w.entered
	clock.Add(61 * time.Second)
	require.True(t, w.loop.Check().Stale)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.Error(t, w.loop.Stop(ctx))
	a := w.loop.Check()
	assert.True(t, a.Stale, "a stop is not a recovery: %s", a.Reason)
	assert.True(t, a.Restart)
	assert.Equal(t, StateWedged, a.State)

	clock.Add(5 * time.Second)
	require.NoError(t, w.loop.Start(context.Background()))
	a = w.loop.Check()
	assert.True(t, a.Stale, "a start while the hung cycle holds the loop is no new run: %s", a.Reason)
	assert.True(t, a.Restart)
	assert.Equal(t, 66*time.Second, a.Verdict.Age, "aged from the hung cycle's start")
	assert.Equal(t, 0, logs.Count("RECOVERED"), logs.String())
	assert.Equal(t, 0, logs.Count("no longer judged wedged"), logs.String())
	assert.Equal(t, 1, logs.Count(`msg="WEDGED`), logs.String())

	w.unwedge()
	require.Eventually(t, func() bool { return !w.loop.Health().InFlight() }, 5*time.Second, time.Millisecond, "cycle completes")
	assert.False(t, w.loop.Check().Stale)
	assert.Equal(t, 1, logs.Count("RECOVERED"))
	require.NoError(t, w.loop.Stop(context.Background()))
}

// Ages are measured on the monotonic clock: a step of the wall clock by
// more than the threshold neither hides a wedge nor fakes one, and the
// exported stamps are the wall clock's.
func TestLoopAgesIgnoreWallClockSteps(t *testing.T) {
	t.Parallel()
	for _, step := range []time.Duration{-time.Hour, time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			t.Parallel()
			clock := dispatchtest.NewClock(t0)
			var logs dispatchtest.Logs
			w := newWedgeable(t, Options{Clock: clock, Logger: logs.Logger()})
			require.NoError(t, w.loop.Start(context.Background()))
			<-w.entered

			clock.Step(step)
			a := w.loop.Check()
			assert.False(t, a.Stale, "a step is no wedge: %s", a.Reason)
			assert.Equal(t, 0, logs.Count(`msg="WEDGED`))

			clock.Add(61 * time.Second)
			a = w.loop.Check()
			assert.True(t, a.Stale, "a step hides no wedge: %s", a.Reason)
			assert.Equal(t, 61*time.Second, a.Verdict.Age)
			started, _ := w.loop.Health().Reported()
			assert.True(t, t0.Equal(started), "exported as the wall clock stamped it: %s", started)
			w.unwedge()
			require.NoError(t, w.loop.Stop(context.Background()))
		})
	}
}

// SetQueue publishes ready tasks and workers as one pair: a reader never
// sees half of one write and half of another.
func TestLoopQueueIsReadAsOnePair(t *testing.T) {
	t.Parallel()
	loop, err := NewLoop(func(context.Context) error { return nil }, testOptions(t, Options{Interval: time.Hour}))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			if i%2 == 0 {
				loop.SetQueue(3, 0)
			} else {
				loop.SetQueue(0, 3)
			}
		}
	}()
	torn := 0
	for {
		select {
		case <-done:
			assert.Zero(t, torn, "torn reads")
			return
		default:
		}
		if h := loop.Health(); h.QueueKnown && h.ReadyUnassignedTasks+h.AvailableWorkers != 3 {
			torn++
		}
	}
}
