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
					assert.Equal(t, 0.0, v["dispatch_up"])
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
