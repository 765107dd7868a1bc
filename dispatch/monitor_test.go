package dispatch

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A loop the daemon keeps itself: it marks a start and never an end. The
// monitor's verdict turns stale past the threshold, in the phase the cycle
// hangs in; the watchdog logs WEDGED once with a stack dump that leads with
// the daemon's goroutine; Liveness says restart; an End recovers.
func TestMonitorJudgesADaemonsOwnLoopThatNeverEnds(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	var logs dispatchtest.Logs
	dir := t.TempDir()
	mon, err := NewMonitor(Options{Name: "own", Interval: 5 * time.Second, Clock: clock, Logger: logs.Logger(),
		WatchdogInterval: time.Hour, StackDumpDir: dir})
	require.NoError(t, err)
	mon.Started(context.Background())
	defer mon.Stopped()

	entered, release := make(chan struct{}), make(chan struct{})
	go hangingDaemonCycle(mon, entered, release)
	<-entered

	clock.Add(59 * time.Second)
	assert.False(t, mon.Check().Stale, "within the threshold")
	require.NoError(t, mon.Liveness())
	clock.Add(2 * time.Second)
	a := mon.Check()
	assert.True(t, a.Stale)
	assert.Equal(t, "assign", a.Verdict.Phase)
	assert.ErrorContains(t, mon.Liveness(), "dispatch loop own wedged, restart the process")
	mon.Check()
	assert.Equal(t, 1, logs.Count("WEDGED: no cycle completed for 1m1s; in phase assign"), logs.String())

	dumps, err := filepath.Glob(filepath.Join(dir, "wedged-own-*.txt"))
	require.NoError(t, err)
	require.Len(t, dumps, 1, logs.String())
	stacks, err := os.ReadFile(dumps[0])
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(stacks), "\n\n")
	assert.Contains(t, first, "hangingDaemonCycle", "the daemon's goroutine leads the dump")

	close(release)
	assert.Eventually(t, func() bool { return !mon.Check().Stale }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, logs.Count("RECOVERED"))
	assert.Equal(t, uint64(1), mon.Stats().Results[ResultOK])
}

// hangingDaemonCycle is one cycle of a daemon's own loop that hangs in
// phase "assign" until release is closed.
func hangingDaemonCycle(mon *Monitor, entered, release chan struct{}) {
	mon.Begin()
	mon.SetPhase("assign")
	close(entered)
	<-release
	mon.End(nil)
}

func TestMonitorCountsResults(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	mon, err := NewMonitor(Options{Interval: time.Second, Logger: logs.Logger()})
	require.NoError(t, err)

	mon.End(nil) // no cycle in flight: nothing
	assert.Zero(t, mon.Stats().Count)
	assert.False(t, mon.Health().Running)

	mon.Begin()
	assert.True(t, mon.Health().InFlight())
	mon.End(errors.New("store unavailable"))
	mon.Begin()
	mon.EndWith(ResultPanic, errors.New("panic: boom"))
	mon.Begin()
	mon.End(context.Canceled) // the loop is not stopping: an error
	mon.Begin()
	mon.End(nil)
	mon.End(nil) // ended already: nothing

	s := mon.Stats()
	assert.Equal(t, [numResults]uint64{ResultOK: 1, ResultError: 2, ResultPanic: 1}, s.Results)
	assert.Equal(t, uint64(4), s.Count)
	assert.False(t, mon.Health().InFlight())
	assert.Equal(t, 1, logs.Count("poll cycle failed"), "a run of failures logs once: %s", logs.String())
	assert.Equal(t, 1, logs.Count("poll cycle succeeded again"))
}

// Started's context is the loop's own: when it ends, the run ends (the
// watchdog exits, the loop reads stopped), and a cycle it cancels counts
// ok, logging nothing.
func TestMonitorRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	mon, err := NewMonitor(testOptions(t, Options{Interval: time.Second, Logger: logs.Logger()}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	mon.Started(ctx)
	assert.True(t, mon.Health().Running)
	mon.Begin()
	cancel()
	mon.End(ctx.Err())
	assert.Eventually(t, func() bool { return !mon.Health().Running }, 5*time.Second, time.Millisecond)
	mon.Stopped()

	assert.Equal(t, uint64(1), mon.Stats().Results[ResultOK], "cancelled by the shutdown: ok")
	assert.Zero(t, mon.Stats().Results[ResultError])
	assert.Equal(t, 0, logs.Count("poll cycle failed"), logs.String())

	mon.Started(context.Background())
	mon.Started(context.Background()) // a new run replaces the old
	assert.True(t, mon.Health().Running)
	mon.Stopped()
	assert.False(t, mon.Health().Running)
}

// Stop cancels the cycle in flight through its context: the cycle that
// returns ctx.Err() then was shut down, not failed.
func TestLoopCycleCancelledByStopIsOK(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	entered := make(chan struct{}, 1)
	loop, err := NewLoop(func(ctx context.Context) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}, testOptions(t, Options{Interval: time.Hour, Logger: logs.Logger()}))
	require.NoError(t, err)
	require.NoError(t, loop.Start(context.Background()))
	<-entered
	require.NoError(t, loop.Stop(context.Background()))

	s := loop.Stats()
	assert.Equal(t, uint64(1), s.Results[ResultOK])
	assert.Zero(t, s.Results[ResultError])
	assert.Equal(t, 0, logs.Count("poll cycle failed"), logs.String())
}

func TestSlogLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := SlogLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	level.Error(logger).Log("msg", "WEDGED: no cycle completed", "loop", "main")
	level.Debug(logger).Log("msg", "quiet", "odd")
	logger.Log("n", 3)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3, buf.String())
	assert.Contains(t, lines[0], `level=ERROR msg="WEDGED: no cycle completed" loop=main`)
	assert.Contains(t, lines[1], `level=DEBUG msg=quiet odd=(MISSING)`)
	assert.Contains(t, lines[2], `level=INFO msg="" n=3`)
}
