package sidecar

import (
	"context"
	"fmt"
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
//	         dispatch_liveness_restart_budget_spent 1, DispatchRestartsNotHelping
//	~1h      a person fixes it: the daemon cycles every 30s, each cycle
//	         completing at :01 of a 15s period
//	~1h+10m  still dispatch_liveness_restart_budget_spent 1: every completed
//	         cycle was first seen by a scrape (Observation.Progress is an
//	         edge of the tracker, consumed by whichever request sees it
//	         first), the liveness probe's requests never see a new
//	         completion, and the policy only reads liveness's observations
//	later    the daemon wedges again: liveness answers 200 forever
//	         ("restart budget spent"), nothing restarts it
//
// A completed cycle is what the issue says restores the budget; here the
// daemon completes cycles for ten minutes and the critical alert keeps
// saying restarts do not help, then a new wedge is never restarted.
func TestACompletedCycleSeenByAScrapeRestoresTheRestartBudget(t *testing.T) {
	t.Parallel()
	fd := &fakeDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		o.Client = &http.Client{Transport: fd}
		o.Now = func() time.Time { return fd.now }
		o.Timeout = time.Second
		o.StaleThreshold = 60 * time.Second
		o.FailureThreshold = 3
	})
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	body := func(started, completed time.Time) string {
		return fmt.Sprintf(`{"isRunning":true,"available":true,"config":{"pollIntervalMs":30000},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q,"lastPollStartedAt":%q,"lastPollCompletedAt":%q}}`,
			ts(fd.now), ts(started), ts(completed))
	}
	var mode func() string
	fd.resp = func(req *http.Request) (*http.Response, error) { return answer(req, 200, mode()), nil }
	wedgedSince := t0.Add(-5 * time.Minute)
	wedged := func() string { return body(wedgedSince, wedgedSince.Add(-time.Second)) }

	ctx := context.Background()
	// run drives the clock second by second: a scrape at :03, liveness at :08.
	run := func(from, to time.Duration, onLiveness func(dispatch.Liveness)) {
		for d := from; d < to; d += time.Second {
			fd.now = t0.Add(d)
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
		k := fd.now.Sub(fixedAt) / (30 * time.Second)
		started := fixedAt.Add(k * 30 * time.Second)
		if fd.now.Sub(started) < time.Second {
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
	wedgedSince = fd.now
	mode = wedged
	asked := 0
	run(time.Hour+10*time.Minute, 2*time.Hour, func(l dispatch.Liveness) {
		if l.Restart {
			asked++
		}
	})
	assert.Positive(t, asked, "a new wedge after a recovery is restarted; liveness said: %s", tgt.State().Liveness)
}
