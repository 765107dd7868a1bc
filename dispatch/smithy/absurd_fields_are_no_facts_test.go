package smithy

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// healthyWith is the healthy sample (computed at 20:59:15.830Z, 44s before
// ours) with each old → new replacement made once.
func healthyWith(t *testing.T, replace ...string) *Status {
	t.Helper()
	body := string(samples(t)["healthy.json"])
	for i := 0; i < len(replace); i += 2 {
		require.Contains(t, body, replace[i])
		body = strings.Replace(body, replace[i], replace[i+1], 1)
	}
	st, err := Decode([]byte(body))
	require.NoError(t, err, body)
	return st
}

const (
	interval  = `"pollIntervalMs": 5000`
	computed  = `"computedAt": "2026-11-26T20:59:15.830Z"`
	started   = `"lastPollStartedAt": "2026-11-26T20:59:13.925Z"`
	completed = `"lastPollCompletedAt": "2026-11-26T20:59:13.929Z"`
)

func withThreshold(ms string) []string {
	return []string{interval, interval + `, "pollStaleThresholdMs": ` + ms}
}

// Each row of the absurd fields a daemon (or anything in front of it) was
// seen to send: what the decision rests on, and what is kept of the field.
func TestAbsurdFieldsAreNoFacts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		replace []string
		// unusable: the answer is refused for this field (the unusable row).
		unusable string
		// oddity: the answer stands, this field dropped or clamped.
		oddity    string
		threshold time.Duration
		queue     bool
	}{
		{"computedAt in year 9999, cycles current", []string{computed, `"computedAt": "9999-12-31T23:59:59.999Z"`},
			"health.computedAt", "", 0, false},
		{"a completion stamped in year 9999", []string{completed, `"lastPollCompletedAt": "9999-12-31T23:59:59.999Z"`},
			"health.lastPollCompletedAt", "", 0, false},
		{"a cycle started at the zero instant", []string{started, `"lastPollStartedAt": "0001-01-01T00:00:00.000Z"`},
			"health.lastPollStartedAt", "", 0, false},
		{"computedAt in 1970, cycles current", []string{computed, `"computedAt": "1970-01-01T00:00:00.000Z"`},
			"health.computedAt", "", 0, false},
		{"pollStaleThresholdMs 0.001", withThreshold("0.001"), "", "config.pollStaleThresholdMs", 10 * time.Second, true},
		{"pollStaleThresholdMs 1e12", withThreshold("1e12"), "", "config.pollStaleThresholdMs", time.Hour, true},
		{"pollStaleThresholdMs 1e13 (overflowed to the 60s default)", withThreshold("1e13"), "", "config.pollStaleThresholdMs", time.Hour, true},
		{"pollStaleThresholdMs 1e300", withThreshold("1e300"), "", "config.pollStaleThresholdMs", time.Hour, true},
		{"pollStaleThresholdMs 30000", withThreshold("30000"), "", "", 30 * time.Second, true},
		{"pollIntervalMs 1e300", []string{interval, `"pollIntervalMs": 1e300`}, "", "config.pollIntervalMs", 10 * time.Hour, true},
		{"pollIntervalMs 1e-9", []string{interval, `"pollIntervalMs": 1e-9`}, "", "config.pollIntervalMs", time.Minute, true},
		{"9.2e18 ready tasks", []string{`"readyUnassignedTasks": 0`, `"readyUnassignedTasks": 9200000000000000000`},
			"", "health.readyUnassignedTasks", time.Minute, false},
		{"9.2e18 available workers", []string{`"availableWorkers": 0`, `"availableWorkers": 9200000000000000000`},
			"", "health.availableWorkers", time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := NewTracker(0).Answer(healthyWith(t, c.replace...), ours)
			a := o.Assessment
			assert.False(t, a.Stale, a.Reason)
			assert.False(t, a.Restart)
			if c.unusable != "" {
				require.NotNil(t, o.Implausible)
				assert.Equal(t, c.unusable, o.Implausible.Field)
				assert.Equal(t, dispatch.EvidenceUnusable, a.Evidence)
				assert.False(t, a.Up)
				assert.Equal(t, dispatch.StateDown, a.State)
				assert.Contains(t, a.Reason, c.unusable, "the reason names the field")
				assert.Nil(t, o.Health, "nothing of the loop is taken from it")
				return
			}
			require.Nil(t, o.Implausible, "%+v", o.Implausible)
			assert.True(t, a.Up)
			assert.Equal(t, dispatch.StateHealthy, a.State, a.Reason)
			require.NotNil(t, o.Health)
			assert.Equal(t, c.threshold, o.Health.StaleThreshold())
			assert.Equal(t, c.queue, o.Health.QueueKnown)
			if c.oddity == "" {
				assert.Empty(t, o.Oddities)
				return
			}
			require.Len(t, o.Oddities, 1)
			assert.Equal(t, c.oddity, o.Oddities[0].Field)
		})
	}
}

func TestImplausibleRateLimitResetIsDropped(t *testing.T) {
	t.Parallel()
	rate := `"limits": []`
	for reset, keep := range map[string]bool{
		"0001-01-01T00:00:00.000Z": false,
		"1970-01-01T00:00:00.000Z": false,
		"9999-12-31T23:59:59.999Z": false,
		"2026-11-27T03:00:00.000Z": true, // in six hours
		"2026-12-03T21:00:00.000Z": true, // a weekly limit
		"2026-11-26T20:00:00.000Z": true, // reset an hour ago, not yet cleared
	} {
		st := healthyWith(t, rate, rate+`, "soonestReset": "`+reset+`"`)
		got, odd := st.Plausible(ours)
		require.NotNil(t, st.RateLimit.SoonestReset, "the decoded status is not changed")
		require.NotNil(t, got.RateLimit)
		assert.False(t, got.RateLimit.IsPaused)
		if keep {
			assert.Same(t, st, got, reset)
			assert.Empty(t, odd, reset)
			continue
		}
		assert.Nil(t, got.RateLimit.SoonestReset, reset)
		require.Len(t, odd, 1, reset)
		assert.Equal(t, "rateLimit.soonestReset", odd[0].Field)
	}
}
