package sidecar

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// History (enforce mode; threshold 60s; window 45s = kubelet period 15s ×
// failureThreshold 3; Prometheus scrapes every 15s at :03, the kubelet
// probes liveness every 15s at :08; the daemon polls every 30s):
//
//	  0s..   the daemon reports a wedge; nobody restarts it (the restart
//	         fails): three requests, then "restart budget spent",
//	         dispatch_liveness_restart_budget_spent 1
//	~1h      a person fixes it: the daemon cycles every 30s, each cycle
//	         completing at :01 of a 15s period, so a scrape sees each
//	         completion first and liveness's own requests never do
//	~1h+10m  the budget is restored (dispatch_liveness_restart_budget_spent
//	         0, DispatchRestartsNotHelping resolves): a completed cycle
//	         restores it whichever request saw it
//	later    the daemon wedges again, and liveness asks for a restart
func TestACompletedCycleSeenByAScrapeRestoresTheRestartBudget(t *testing.T) {
	t.Parallel()
	sd := &scriptedDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		sd.wire(o)
		o.Timeout = time.Second
		o.StaleThreshold = 60 * time.Second
		o.FailureThreshold = 3
	})
	body := func(started, completed time.Time) string {
		return runningStatus(sd.now, 30*time.Second, started, completed)
	}
	var mode func() string
	sd.resp = func(req *http.Request) (*http.Response, error) { return answer(req, 200, mode()), nil }
	wedgedSince := t0.Add(-5 * time.Minute)
	wedged := func() string { return body(wedgedSince, wedgedSince.Add(-time.Second)) }

	ctx := context.Background()
	// run drives the clock second by second: a scrape at :03, liveness at :08.
	run := func(from, to time.Duration, onLiveness func(dispatch.Liveness)) {
		for d := from; d < to; d += time.Second {
			sd.now = t0.Add(d)
			switch int(d.Seconds()) % 15 {
			case 3:
				tgt.Probe(ctx)
			case 8:
				_, l := tgt.Liveness(ctx, false)
				if onLiveness != nil {
					onLiveness(l)
				}
			}
		}
	}

	mode = wedged
	run(0, time.Hour, nil)
	require.Equal(t, 1.0, familytest.ValueOf(t, familytest.Values(t, tgt.Probe(ctx)), "dispatch_liveness_restart_budget_spent"), "nobody restarted it: budget spent")

	// The fix: cycles every 30s from fixedAt, each completing a second after it starts.
	fixedAt := t0.Add(time.Hour)
	mode = func() string {
		k := sd.now.Sub(fixedAt) / (30 * time.Second)
		started := fixedAt.Add(k * 30 * time.Second)
		if sd.now.Sub(started) < time.Second {
			started = started.Add(-30 * time.Second)
		}
		return body(started, started.Add(time.Second))
	}
	run(time.Hour, time.Hour+10*time.Minute, nil)
	p := tgt.Probe(ctx)
	require.Equal(t, dispatch.StateHealthy, p.State().State)
	assert.Zero(t, familytest.ValueOf(t, familytest.Values(t, p), "dispatch_liveness_restart_budget_spent"),
		"ten minutes of completed cycles: the budget is restored and DispatchRestartsNotHelping resolves")

	// It wedges again.
	wedgedSince = sd.now
	mode = wedged
	asked := 0
	run(time.Hour+10*time.Minute, 2*time.Hour, func(l dispatch.Liveness) {
		if l.Restart {
			asked++
		}
	})
	assert.Positive(t, asked, "a new wedge after a recovery is restarted; liveness said: %s", tgt.State().Liveness)
}
