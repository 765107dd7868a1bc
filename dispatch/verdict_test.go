package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var t0 = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// running is a loop that was started long ago and has a healthy queue.
func running() Health {
	return Health{Now: t0, Running: true, Interval: 5 * time.Second, Observed: true, QueueKnown: true, AvailableWorkers: 1}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		health func(h *Health)
		stale  bool
		reason string
	}{
		// The smithy suite's four cases.
		{"fresh after a tick", func(h *Health) {
			h.LastStarted, h.LastCompleted = at(-2*time.Second), at(-1900*time.Millisecond)
		}, false, "last cycle completed at 2026-11-26T20:59:58Z"},
		{"never polled", func(h *Health) {}, false, "no cycle has run yet"},
		{"wedged mid-cycle", func(h *Health) {
			h.LastStarted, h.LastCompleted, h.Phase = at(-61*time.Second), at(-66*time.Second), "inbox"
		}, true, "cycle in flight since 2026-11-26T20:58:59Z (in phase inbox), 1m1s ago (threshold 1m0s)"},
		{"custom threshold", func(h *Health) {
			h.Threshold = 10 * time.Second
			h.LastStarted, h.LastCompleted = at(-16*time.Second), at(-15*time.Second)
		}, true, "last cycle completed at 2026-11-26T20:59:45Z, 15s ago (threshold 10s)"},

		// Corrections to smithy's rule.
		{"stopped is never stale", func(h *Health) {
			h.Running = false
			h.LastStarted, h.LastCompleted = at(-65*time.Second), at(-64*time.Second)
		}, false, "the loop is stopped"},
		{"started but no cycle within the threshold is stale", func(h *Health) {
			h.RunningSince = at(-61 * time.Second)
		}, true, "loop started at 2026-11-26T20:58:59Z; no cycle completed since, 1m1s ago (threshold 1m0s)"},
		{"started but no cycle yet, within the threshold", func(h *Health) {
			h.RunningSince = at(-59 * time.Second)
		}, false, "loop started at 2026-11-26T20:59:01Z; no cycle completed since"},

		// Edges.
		{"exactly at the threshold is not stale", func(h *Health) {
			h.LastCompleted, h.LastStarted = at(-60*time.Second), at(-61*time.Second)
		}, false, "last cycle completed at 2026-11-26T20:59:00Z"},
		{"default threshold grows with the interval", func(h *Health) {
			h.Interval = 10 * time.Second
			h.LastStarted, h.LastCompleted = at(-99*time.Second), at(-99*time.Second)
		}, false, "last cycle completed at 2026-11-26T20:58:21Z"},
		{"a restart gives a full threshold of grace", func(h *Health) {
			h.RunningSince = at(-10 * time.Second)
			h.LastStarted, h.LastCompleted = at(-time.Hour), at(-time.Hour)
		}, false, "loop started at 2026-11-26T20:59:50Z; no cycle completed since"},
		{"a wedge carried through a stop and a start is judged from the hung cycle's start", func(h *Health) {
			h.RunningSince = at(-10 * time.Second)
			h.LastStarted, h.LastCompleted = at(-2*time.Hour), at(-3*time.Hour)
		}, true, "cycle in flight since 2026-11-26T19:00:00Z, 2h0m0s ago (threshold 1m0s)"},
		{"a stopped loop with a hung cycle in flight is stale", func(h *Health) {
			h.Running = false
			h.LastStarted, h.LastCompleted = at(-65*time.Second), at(-70*time.Second)
		}, true, "loop stopped; cycle in flight since 2026-11-26T20:58:55Z, 1m5s ago (threshold 1m0s)"},
		{"a stopped loop whose last cycle is still finishing is not stale", func(h *Health) {
			h.Running = false
			h.LastStarted, h.LastCompleted = at(-time.Second), at(-6*time.Second)
		}, false, "loop stopped; cycle in flight since 2026-11-26T20:59:59Z"},
		{"a completion after the start of the run counts", func(h *Health) {
			h.RunningSince = at(-10 * time.Minute)
			h.LastStarted, h.LastCompleted = at(-5*time.Second), at(-4*time.Second)
		}, false, "last cycle completed at 2026-11-26T20:59:56Z"},
		{"timestamps in the future are not stale", func(h *Health) {
			h.LastStarted, h.LastCompleted = at(time.Hour), at(time.Hour)
		}, false, "last cycle completed at 2026-11-26T22:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := running()
			c.health(&h)
			v := Judge(h)
			assert.True(t, v.Judged)
			assert.Equal(t, c.stale, v.Stale, v.Reason)
			assert.Equal(t, c.reason, v.Reason)
			if c.stale {
				assert.Equal(t, v.Since.Add(v.Threshold), v.StaleSince())
			} else {
				assert.True(t, v.StaleSince().IsZero())
			}
		})
	}
}

func TestJudgeOnSmithySamples(t *testing.T) {
	t.Parallel()
	// Timestamps from shared/smithy/samples/wedged.json: 42.8s in flight.
	// Smithy reported pollStale there, so it ran with a threshold under
	// 42s; with 30s ours agrees, with the default 60s not yet.
	wedged := running()
	wedged.Now, wedged.LastStarted, wedged.LastCompleted = ms("21:01:42.020"), ms("21:00:59.259"), ms("21:00:54.270")
	assert.False(t, Judge(wedged).Stale, "default threshold: 60s")
	wedged.Threshold = 30 * time.Second
	assert.True(t, Judge(wedged).Stale, "threshold 30s")

	// stopped-after-60s.json: smithy's false alarm on a stopped loop.
	stopped := running()
	stopped.Running = false
	stopped.Now, stopped.LastStarted, stopped.LastCompleted = ms("21:00:43.512"), ms("20:59:38.968"), ms("20:59:38.977")
	assert.False(t, Judge(stopped).Stale)
}

func ms(clock string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05.000", "2026-11-26 "+clock)
	if err != nil {
		panic(err)
	}
	return t
}

func TestJudgeDurations(t *testing.T) {
	t.Parallel()
	h := running()
	h.LastStarted, h.LastCompleted, h.Phase = at(-90*time.Second), at(-95*time.Second), "assign"
	v := Judge(h)
	assert.Equal(t, 90*time.Second, v.Age)
	assert.Equal(t, 95*time.Second, v.SinceCompleted, "no cycle completed for")
	assert.Equal(t, "assign", v.Phase)
	assert.Equal(t, time.Minute, v.Threshold)
	assert.Equal(t, at(-30*time.Second), v.StaleSince())
}

func TestJudgeUnobserved(t *testing.T) {
	t.Parallel()
	h := Health{Now: t0, Running: true, Interval: 30 * time.Second}
	v := Judge(h)
	assert.False(t, v.Judged)
	assert.False(t, v.Stale)
	assert.Equal(t, 5*time.Minute, v.Threshold, "threshold still known: 10 × 30s")
	assert.Equal(t, StateUnknown, Decide(Look{Evidence: EvidenceUsable, Health: &h}).State)
}

func TestStuck(t *testing.T) {
	t.Parallel()
	h := running()
	h.ReadyUnassignedTasks, h.AvailableWorkers = 3, 0
	assert.True(t, h.Stuck())
	assert.True(t, Judge(h).Stuck)
	h.AvailableWorkers = 1
	assert.False(t, h.Stuck(), "a worker can take them")
	h.ReadyUnassignedTasks, h.AvailableWorkers = 0, 0
	assert.False(t, h.Stuck(), "nothing waits")
	h.ReadyUnassignedTasks, h.QueueKnown = 2, false
	assert.False(t, h.Stuck(), "queue unknown")
}

func TestDefaultStaleThreshold(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Minute, DefaultStaleThreshold(0))
	assert.Equal(t, time.Minute, DefaultStaleThreshold(5*time.Second))
	assert.Equal(t, 10*time.Minute, DefaultStaleThreshold(time.Minute))
}

func TestInFlight(t *testing.T) {
	t.Parallel()
	assert.False(t, Health{}.InFlight())
	assert.True(t, Health{LastStarted: t0}.InFlight())
	assert.True(t, Health{LastStarted: t0, LastCompleted: at(-time.Second)}.InFlight())
	assert.False(t, Health{LastStarted: t0, LastCompleted: t0}.InFlight())
	assert.False(t, Health{LastCompleted: t0}.InFlight())
}
