package collector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// blockingCycle runs once freely and then blocks, deaf to ctx, until released.
type blockingCycle struct {
	runs    int
	entered chan struct{}
	release chan struct{}
}

func (b *blockingCycle) cycle(context.Context) error {
	b.runs++
	if b.runs > 1 {
		b.entered <- struct{}{}
		<-b.release
	}
	return nil
}

func TestLoopCollectorOutput(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	done := make(chan struct{})
	loop, err := dispatch.NewLoop(func(context.Context) error { close(done); return nil },
		dispatch.Options{Name: "main", Interval: 20 * time.Second, StaleThreshold: 30 * time.Second, Clock: clock, WatchdogInterval: time.Hour})
	require.NoError(t, err)
	c, err := NewLoopCollector(loop)
	require.NoError(t, err)

	// Before any cycle: no timestamps at all, never a misleading 0.
	before := familytest.Values(t, c)
	assert.NotContains(t, before, "dispatch_poll_last_started_seconds")
	assert.NotContains(t, before, "dispatch_poll_last_completed_seconds")
	assert.NotContains(t, before, "dispatch_stuck_queue", "the queue has not been reported")
	assert.Equal(t, 0.0, familytest.ValueOf(t, before, "dispatch_daemon_running"))

	loop.SetQueue(2, 0)
	require.NoError(t, loop.Start(context.Background()))
	<-done
	require.Eventually(t, func() bool { return loop.Stats().Count == 1 }, 5*time.Second, time.Millisecond)
	defer func() { require.NoError(t, loop.Stop(context.Background())) }()
	clock.Add(61 * time.Second) // stale: no cycle for over the 30s threshold

	expected := familytest.Golden(t, "loop_stale.prom")
	// The histogram is checked apart.
	require.NoError(t, testutil.CollectAndCompare(c, expected,
		"dispatch_available_workers", "dispatch_daemon_running", "dispatch_poll_cycles_total", "dispatch_poll_in_flight",
		"dispatch_poll_interval_seconds", "dispatch_poll_last_completed_seconds", "dispatch_poll_last_started_seconds",
		"dispatch_poll_stale", "dispatch_poll_stale_threshold_seconds", "dispatch_ready_unassigned_tasks",
		"dispatch_stuck_queue", "dispatch_up"))

	require.NoError(t, testutil.CollectAndCompare(c, familytest.Golden(t, "loop_cycle_duration.prom"), "dispatch_poll_cycle_duration_seconds"))
}

func TestLoopCollectorStaleWhileTheLoopGoroutineIsBlocked(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	b := &blockingCycle{entered: make(chan struct{}), release: make(chan struct{})}
	loop, err := dispatch.NewLoop(b.cycle, dispatch.Options{Interval: time.Millisecond, Clock: clock, WatchdogInterval: time.Hour})
	require.NoError(t, err)
	c, err := NewLoopCollector(loop)
	require.NoError(t, err)
	require.NoError(t, loop.Start(context.Background()))
	<-b.entered

	clock.Add(59 * time.Second)
	v := familytest.Values(t, c)
	assert.Equal(t, 1.0, v["dispatch_poll_in_flight"])
	assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"))
	clock.Add(2 * time.Second)
	assert.Equal(t, 1.0, familytest.Values(t, c)["dispatch_poll_stale"], "read at scrape time, not by the blocked loop")

	close(b.release)
	require.NoError(t, loop.Stop(context.Background()))
	v = familytest.Values(t, c)
	assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"), "stopped is never stale")
	assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_daemon_running"))
}

func TestLoopCollectorManyLoops(t *testing.T) {
	t.Parallel()
	nop := func(context.Context) error { return nil }
	a, err := dispatch.NewLoop(nop, dispatch.Options{Name: "assign", Interval: time.Second})
	require.NoError(t, err)
	b, err := dispatch.NewLoop(nop, dispatch.Options{Name: "inbox", Interval: 2 * time.Second})
	require.NoError(t, err)
	c, err := NewLoopCollector(a, b)
	require.NoError(t, err)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dispatch_poll_interval_seconds Configured interval between the starts of two poll cycles.
# TYPE dispatch_poll_interval_seconds gauge
dispatch_poll_interval_seconds{loop="assign"} 1
dispatch_poll_interval_seconds{loop="inbox"} 2
`), "dispatch_poll_interval_seconds"))
	assert.Len(t, c.States(), 2)

	_, err = NewLoopCollector(a, a)
	assert.ErrorContains(t, err, `two dispatch loops named "assign"`)
}
