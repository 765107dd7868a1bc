package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"
	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// serveHealthy serves a healthy daemon on our clock (interval 5s, a cycle
// a second ago), each answer changed by edit first.
func serveHealthy(t *testing.T, edit func(st *smithy.Status)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var st smithy.Status
		if err := json.Unmarshal([]byte(runningStatus(now, 5*time.Second, now.Add(-time.Second), now.Add(-time.Second+time.Millisecond))), &st); err != nil {
			panic(err)
		}
		edit(&st)
		b, err := json.Marshal(st)
		if err != nil {
			panic(err)
		}
		fmt.Fprint(w, string(b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func stampAt(t time.Time) *smithy.Timestamp { ts := smithy.Timestamp(t); return &ts }

// A daemon's absurd fields, served over HTTP: the metrics, the landing
// page's state, liveness and the log say one thing, and no absurd value is
// exported as a fact.
func TestAbsurdFieldsShowAlikeInEveryOutput(t *testing.T) {
	t.Parallel()
	year9999 := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	cases := []struct {
		name string
		edit func(st *smithy.Status)
		// field is what the answer is refused for (dispatch_up 0, counted
		// as implausible); empty: the answer stands.
		field string
		// logged is the line logged once per target, whatever the scrapes.
		logged string
		absent []string
		want   map[string]float64
	}{
		{"computedAt in year 9999", func(st *smithy.Status) { st.Health.ComputedAt = stampAt(year9999) },
			"health.computedAt", "reason=implausible", []string{"dispatch_poll_last_completed_seconds", "dispatch_daemon_reported_stale",
				"dispatch_daemon_running", "dispatch_ready_unassigned_tasks"}, nil},
		{"a completion in year 9999", func(st *smithy.Status) { st.Health.LastPollCompletedAt = stampAt(year9999) },
			"health.lastPollCompletedAt", "reason=implausible", []string{"dispatch_poll_last_completed_seconds", "dispatch_poll_last_started_seconds"}, nil},
		{"pollStaleThresholdMs 0.001", func(st *smithy.Status) { ms := 0.001; st.Config.PollStaleThresholdMs = &ms },
			"", "field=config.pollStaleThresholdMs", nil, map[string]float64{"dispatch_poll_stale_threshold_seconds": 10}},
		{"pollStaleThresholdMs 1e13", func(st *smithy.Status) { ms := 1e13; st.Config.PollStaleThresholdMs = &ms },
			"", "field=config.pollStaleThresholdMs", nil, map[string]float64{"dispatch_poll_stale_threshold_seconds": 3600}},
		{"9.2e18 ready tasks", func(st *smithy.Status) { n := 9_200_000_000_000_000_000; st.Health.ReadyUnassignedTasks = &n },
			"", "field=health.readyUnassignedTasks", []string{"dispatch_ready_unassigned_tasks", "dispatch_available_workers", "dispatch_stuck_queue"}, nil},
		{"a rate-limit reset in year 1", func(st *smithy.Status) {
			st.RateLimit = &smithy.RateLimit{Limits: []smithy.Limit{}, SoonestReset: stampAt(time.Date(1, 6, 1, 0, 0, 0, 0, time.UTC))}
		}, "", "field=rateLimit.soonestReset", []string{"dispatch_rate_limit_soonest_reset_seconds"}, map[string]float64{"dispatch_rate_limit_paused": 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, serveHealthy(t, c.edit), &logs, func(o *TargetOptions) { o.Timeout = 2 * time.Second })
			for i := 1; i <= 4; i++ {
				v, st, _ := probe(t, tgt)
				require.Contains(t, v, "dispatch_poll_stale")
				assert.Equal(t, 0.0, v["dispatch_poll_stale"], "never a wedge from them")
				for _, name := range c.absent {
					assert.NotContains(t, v, name)
				}
				for name, want := range c.want {
					require.Contains(t, v, name)
					assert.Equal(t, want, v[name], name)
				}
				implausible := familytest.ValueOf(t, v, "dispatch_status_request_failures_total{reason=implausible}")
				if c.field != "" {
					assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_up"))
					assert.Equal(t, float64(2*i-1), implausible, "each request counted: this scrape's and each liveness probe's before it")
					assert.Equal(t, dispatch.StateDown, st.State)
					assert.Contains(t, st.Reason, c.field, "the landing page names the field")
					assert.Contains(t, st.Error, c.field)
				} else {
					assert.Equal(t, 1.0, v["dispatch_up"])
					assert.Zero(t, implausible)
					assert.Equal(t, dispatch.StateHealthy, st.State, st.Reason)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, l := tgt.Liveness(ctx, false)
				cancel()
				assert.False(t, l.Restart, "liveness never asks for a restart on them: %s", l.Reason)
			}
			landing := tgt.State()
			assert.Equal(t, c.field != "", landing.State == dispatch.StateDown, "the landing page agrees: %s", landing.Reason)
			assert.Equal(t, 1, logs.Count(c.logged), "one line per target, not per scrape:\n%s", logs.String())
		})
	}
}

// The failure reasons, implausible among them, are one series each.
func TestImplausibleIsAFailureReason(t *testing.T) {
	t.Parallel()
	assert.Contains(t, family.Reasons(), family.ReasonImplausible)
	assert.Equal(t, family.ReasonOther, family.Reasons()[family.NumReasons-1], "unknown reasons count as the last")
}

// The daemon's computedAt steps two hours ahead at 60s while its cycle
// stamps keep the old clock (they contradict each other): a healthy daemon
// was WEDGED with 503s. Now the answer that shows the step is judged by
// first sightings, as a real step is, and every later one is unusable,
// counted as implausible: never a wedge, never a 503.
func TestComputedAtSteppingAwayFromItsStampsIsNoWedge(t *testing.T) {
	t.Parallel()
	sd := &scriptedDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) { sd.wire(o) })
	sd.resp = func(req *http.Request) (*http.Response, error) {
		computed := sd.now
		if sd.now.Sub(t0) >= 60*time.Second {
			computed = computed.Add(2 * time.Hour)
		}
		return answer(req, 200, runningStatus(computed, time.Second, sd.now.Add(-time.Second), sd.now.Add(-time.Second+time.Millisecond))), nil
	}
	refused := 0
	for s := 0; s <= 600; s += 5 {
		sd.now = t0.Add(time.Duration(s) * time.Second)
		p, l := tgt.Liveness(context.Background(), false)
		v := familytest.Values(t, p)
		require.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"), "at %ds", s)
		require.False(t, l.Restart, "at %ds: %s", s, l.Reason)
		if familytest.ValueOf(t, v, "dispatch_up") == 0 {
			refused++
			assert.Equal(t, dispatch.StateDown, p.State().State)
			assert.Contains(t, p.State().Reason, "health.computedAt")
			// What is exported of the loop is the last usable answer's (the
			// step's own, at 60s), as on any unusable answer.
			last := t0.Add(59*time.Second + time.Millisecond)
			assert.InDelta(t, float64(last.UnixMilli())/1e3, familytest.ValueOf(t, v, "dispatch_poll_last_completed_seconds"), 1e-6)
		}
	}
	assert.Equal(t, (600-65)/5+1, refused, "every answer after the step's own")
	assert.Equal(t, 1, logs.Count("reason=implausible"), logs.String())
}
