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

	expected := `
# HELP dispatch_available_workers Workers registered, enabled and not terminated; busy ones count.
# TYPE dispatch_available_workers gauge
dispatch_available_workers{loop="main"} 0
# HELP dispatch_daemon_running 1 when the dispatch loop is started (smithy's isRunning), 0 when stopped.
# TYPE dispatch_daemon_running gauge
dispatch_daemon_running{loop="main"} 1
# HELP dispatch_poll_cycles_total Poll cycles finished, by result: ok, error (the cycle returned an error) or panic (recovered).
# TYPE dispatch_poll_cycles_total counter
dispatch_poll_cycles_total{loop="main",result="error"} 0
dispatch_poll_cycles_total{loop="main",result="ok"} 1
dispatch_poll_cycles_total{loop="main",result="panic"} 0
# HELP dispatch_poll_in_flight 1 while a poll cycle runs: it started and has not completed since.
# TYPE dispatch_poll_in_flight gauge
dispatch_poll_in_flight{loop="main"} 0
# HELP dispatch_poll_interval_seconds Configured interval between the starts of two poll cycles.
# TYPE dispatch_poll_interval_seconds gauge
dispatch_poll_interval_seconds{loop="main"} 20
# HELP dispatch_poll_last_completed_seconds Unix time the latest poll cycle completed (successfully or not), on the daemon's clock; absent until a cycle has completed.
# TYPE dispatch_poll_last_completed_seconds gauge
dispatch_poll_last_completed_seconds{loop="main"} 1.7957268e+09
# HELP dispatch_poll_last_started_seconds Unix time the latest poll cycle started, on the daemon's clock; absent until a cycle has started.
# TYPE dispatch_poll_last_started_seconds gauge
dispatch_poll_last_started_seconds{loop="main"} 1.7957268e+09
# HELP dispatch_poll_stale 1 when the evidence shows a hung loop: a cycle in flight for longer than the stale threshold (running or stopped), or a running loop with no cycle completed within it since its run began; or, while the daemon hangs, the same extrapolated from its last usable status. Never on unreadable or refused status requests.
# TYPE dispatch_poll_stale gauge
dispatch_poll_stale{loop="main"} 1
# HELP dispatch_poll_stale_threshold_seconds Staleness threshold in force: configured, or max(60s, 10 x poll interval).
# TYPE dispatch_poll_stale_threshold_seconds gauge
dispatch_poll_stale_threshold_seconds{loop="main"} 30
# HELP dispatch_ready_unassigned_tasks Ready tasks with no assignee.
# TYPE dispatch_ready_unassigned_tasks gauge
dispatch_ready_unassigned_tasks{loop="main"} 2
# HELP dispatch_stuck_queue 1 when ready tasks wait and no worker can take them (ready_unassigned_tasks > 0 and available_workers == 0).
# TYPE dispatch_stuck_queue gauge
dispatch_stuck_queue{loop="main"} 1
# HELP dispatch_up 1 when the loop's state could be read: always 1 in process; for a sidecar, 1 only when the status request of this scrape returned a usable status.
# TYPE dispatch_up gauge
dispatch_up{loop="main"} 1
`
	// The histogram is checked apart.
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected),
		"dispatch_available_workers", "dispatch_daemon_running", "dispatch_poll_cycles_total", "dispatch_poll_in_flight",
		"dispatch_poll_interval_seconds", "dispatch_poll_last_completed_seconds", "dispatch_poll_last_started_seconds",
		"dispatch_poll_stale", "dispatch_poll_stale_threshold_seconds", "dispatch_ready_unassigned_tasks",
		"dispatch_stuck_queue", "dispatch_up"))

	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dispatch_poll_cycle_duration_seconds Duration of finished poll cycles.
# TYPE dispatch_poll_cycle_duration_seconds histogram
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.001"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.0025"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.005"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.01"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.025"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.05"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.1"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.25"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="0.5"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="1"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="2.5"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="5"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="10"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="30"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="60"} 1
dispatch_poll_cycle_duration_seconds_bucket{loop="main",le="+Inf"} 1
dispatch_poll_cycle_duration_seconds_sum{loop="main"} 0
dispatch_poll_cycle_duration_seconds_count{loop="main"} 1
`), "dispatch_poll_cycle_duration_seconds"))
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
