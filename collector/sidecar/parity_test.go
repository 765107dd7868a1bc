package sidecar

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/demo"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestSidecarMatchesInProcess points a sidecar Target at the demo's
// /api/daemon/status and checks it reports what the demo's own collector
// does: one verdict, two sources.
func TestSidecarMatchesInProcess(t *testing.T) {
	t.Parallel()
	d, err := demo.New(demo.Options{Interval: 10 * time.Millisecond, StaleThreshold: 300 * time.Millisecond,
		MaxPhaseDelay: time.Millisecond, Seed: 1, WatchdogInterval: time.Hour, StackDumpDir: t.TempDir()})
	require.NoError(t, err)
	mux := http.NewServeMux()
	d.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	require.NoError(t, d.Start(context.Background()))
	defer func() { require.NoError(t, d.Shutdown(context.Background())) }()

	inProcess, err := collector.NewLoopCollector(d.Loop())
	require.NoError(t, err)
	var logs dispatchtest.Logs
	sidecar := newTestTarget(t, srv.URL+demo.StatusPath, &logs, func(o *TargetOptions) { o.Timeout = 2 * time.Second })

	shared := []string{"dispatch_up", "dispatch_daemon_running", "dispatch_poll_in_flight", "dispatch_poll_stale",
		"dispatch_poll_stale_threshold_seconds", "dispatch_poll_interval_seconds", "dispatch_stuck_queue",
		"dispatch_ready_unassigned_tasks", "dispatch_available_workers"}
	compare := func(state string) {
		t.Helper()
		side, sideState, _ := probe(t, sidecar)
		own := familytest.Values(t, inProcess)
		for _, name := range shared {
			require.Contains(t, own, name, "%s: in process", state)
			require.Contains(t, side, name, "%s: sidecar", state)
			assert.Equal(t, own[name], side[name], "%s: %s", state, name)
		}
		for _, ts := range []string{"dispatch_poll_last_started_seconds", "dispatch_poll_last_completed_seconds"} {
			require.Contains(t, own, ts, "%s: in process", state)
			require.Contains(t, side, ts, "%s: sidecar", state)
			assert.LessOrEqual(t, math.Abs(own[ts]-side[ts]), 0.001, "%s: %s within the JSON's millisecond", state, ts)
		}
		ownStates := inProcess.States()
		require.Len(t, ownStates, 1)
		assert.Equal(t, ownStates[0].State, sideState.State, "%s: one state from both sources", state)
	}

	// Stuck, with the loop stopped so nothing moves between the two reads.
	require.NoError(t, d.SetWorkers(0))
	require.NoError(t, d.AddTasks(2))
	require.Eventually(t, func() bool { return d.Loop().Stats().Count > 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, d.Loop().Stop(context.Background()))
	compare("stopped and stuck")

	// Wedged: the cycle hangs in its phase, so the timestamps freeze.
	require.NoError(t, d.SetWorkers(2))
	_, err = d.Wedge("inbox")
	require.NoError(t, err)
	require.NoError(t, d.Loop().Start(context.Background()))
	require.Eventually(t, func() bool { return d.Loop().Check().Stale }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(20 * time.Millisecond) // the JSON carries milliseconds: step off the threshold's edge
	compare("wedged")
	side, _, _ := probe(t, sidecar)
	require.Contains(t, side, "dispatch_poll_stale")
	assert.Equal(t, 1.0, side["dispatch_poll_stale"])
	require.Contains(t, side, "dispatch_daemon_reported_stale")
	assert.Equal(t, 1.0, side["dispatch_daemon_reported_stale"], "the demo reports its own verdict as smithy does")

	// Stopped while the wedged cycle is in flight: still wedged in both,
	// for a stop is not a recovery.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = d.Loop().Stop(ctx)
	compare("wedged, then stopped")
	side, _, _ = probe(t, sidecar)
	assert.Equal(t, 1.0, side["dispatch_poll_stale"], "stopped with the hung cycle in flight")
}
