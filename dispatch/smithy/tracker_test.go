package smithy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// ours is the exporter's clock in these tests; the daemon's may differ.
var ours = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

// status is a running daemon's response computed at our time now+skew, with
// the given cycle timestamps (offsets from ours; nil = absent).
func status(t *testing.T, skew time.Duration, now time.Duration, running bool, started, completed *time.Duration) *Status {
	t.Helper()
	ts := func(d *time.Duration) *Timestamp {
		if d == nil {
			return nil
		}
		v := Timestamp(ours.Add(*d + skew))
		return &v
	}
	yes, interval, zero, one := true, 5000.0, 0, 1
	computed := now
	return &Status{
		IsRunning: &running, Available: &yes,
		Config: &Config{PollIntervalMs: &interval},
		Health: &HealthReport{
			ReadyUnassignedTasks: &zero, AvailableWorkers: &one,
			ComputedAt: ts(&computed), LastPollStartedAt: ts(started), LastPollCompletedAt: ts(completed),
		},
	}
}

func d(n float64) *time.Duration { v := sec(n); return &v }

func judge(o Observation) dispatch.Verdict {
	if o.Health == nil {
		return dispatch.Verdict{}
	}
	return dispatch.Judge(*o.Health)
}

func TestTrackerSamples(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		threshold time.Duration
		state     dispatch.State
	}{
		"healthy.json":              {0, dispatch.StateHealthy},
		"stuck.json":                {0, dispatch.StateStuck},
		"wedged.json":               {30 * time.Second, dispatch.StateWedged},
		"wedged-after-restart.json": {0, dispatch.StateStuck}, // 59.985s in flight: just under 60s
		"stopped-fresh.json":        {0, dispatch.StateStuck},
		"stopped-after-60s.json":    {0, dispatch.StateStuck}, // smithy: pollStale; ours: stopped is never stale
		"restarted.json":            {0, dispatch.StateStuck},
		"nogit.json":                {0, dispatch.StateUnknown},
	}
	for name, body := range samples(t) {
		c, ok := cases[name]
		require.True(t, ok, "a case for every sample: %s", name)
		st, err := Decode(body)
		require.NoError(t, err)
		o := NewTracker(c.threshold).Observe(st, ours)
		require.True(t, o.Up)
		v := judge(o)
		assert.Equal(t, c.state, v.State(o.Up), "%s: %s", name, v.Reason)
		assert.False(t, v.Stale && !*st.IsRunning, "%s: stopped is never stale", name)
	}
}

func TestTrackerJudgesOnTheDaemonsClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{0, 2 * time.Hour, -2 * time.Hour} {
		tr := NewTracker(0)
		o := tr.Observe(status(t, skew, 0, true, d(-59), d(-61)), ours)
		assert.False(t, judge(o).Stale, "skew %s: 59s in flight", skew)
		o = tr.Observe(status(t, skew, sec(2), true, d(-59), d(-61)), ours.Add(sec(2)))
		assert.True(t, judge(o).Stale, "skew %s: 61s in flight", skew)
		assert.Equal(t, sec(61), judge(o).Age, "skew %s", skew)
	}
}

func TestTrackerKeepsJudgingWhileTheTargetHangs(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Observe(status(t, time.Hour, 0, true, d(-2), d(-1.9)), ours)
	require.False(t, judge(o).Stale)

	o = tr.Fail(false, ours.Add(sec(58)))
	assert.False(t, o.Up)
	require.NotNil(t, o.Health)
	assert.False(t, judge(o).Stale, "59.9s since the last completion")
	assert.False(t, o.Health.QueueKnown, "the queue is unknown while down")

	o = tr.Fail(false, ours.Add(sec(58.2)))
	v := judge(o)
	assert.True(t, v.Stale, "60.1s since the last completion, measured on our monotonic clock")
	assert.Equal(t, dispatch.StateWedged, v.State(o.Up))
	assert.Equal(t, sec(58.2), o.Unresponsive)
	assert.False(t, o.Restartable(v), "unresponsive for less than the threshold")
	o = tr.Fail(false, ours.Add(sec(61)))
	assert.True(t, o.Restartable(judge(o)), "hung for longer than the threshold")
}

func TestTrackerNothingKnownBeforeTheFirstAnswer(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Fail(false, ours)
	assert.Nil(t, o.Health)
	o = tr.Fail(true, ours.Add(time.Hour))
	assert.Nil(t, o.Health)
	assert.False(t, o.Restartable(judge(o)))
}

func TestTrackerFirstSightOfAWedgedDaemonIsStaleAtOnce(t *testing.T) {
	t.Parallel()
	o := NewTracker(0).Observe(status(t, 0, 0, true, d(-3600), d(-3605)), ours)
	assert.False(t, o.Restarted)
	assert.True(t, judge(o).Stale, "an exporter restart gives no grace to a daemon that was already wedged")
}

func TestTrackerNeverStartedIsStaleAfterTheThreshold(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Observe(status(t, 0, 0, true, nil, nil), ours)
	assert.False(t, judge(o).Stale)
	o = tr.Observe(status(t, 0, sec(59), true, nil, nil), ours.Add(sec(59)))
	assert.False(t, judge(o).Stale)
	o = tr.Observe(status(t, 0, sec(61), true, nil, nil), ours.Add(sec(61)))
	assert.True(t, judge(o).Stale, "smithy never alarms here")
}

func TestTrackerRestartStartsAFreshGrace(t *testing.T) {
	t.Parallel()
	// After the restart the daemon answers at our time s with these timestamps.
	cases := map[string]func(s float64) *Status{
		"timestamps vanish":      func(s float64) *Status { return status(t, 0, sec(s), true, nil, nil) },
		"timestamps go backward": func(s float64) *Status { return status(t, 0, sec(s), true, d(-7200), d(-7200)) },
	}
	for name, after := range cases {
		tr := NewTracker(0)
		o := tr.Observe(status(t, 0, 0, true, d(-3600), d(-3605)), ours)
		require.True(t, judge(o).Stale, name)

		o = tr.Observe(after(100), ours.Add(sec(100)))
		assert.True(t, o.Restarted, name)
		assert.False(t, judge(o).Stale, "%s: the previous run's timestamps never feed the new run's verdict", name)
		assert.False(t, o.Restartable(judge(o)), name)

		o = tr.Observe(after(159), ours.Add(sec(159)))
		assert.False(t, o.Restarted, name)
		assert.False(t, judge(o).Stale, "%s: 59s into the grace", name)
		o = tr.Observe(after(161), ours.Add(sec(161)))
		assert.True(t, judge(o).Stale, "%s: grace over, still no cycle", name)
	}
}

func TestTrackerWedgeSurvivesStopAndStart(t *testing.T) {
	t.Parallel()
	// smithy: stop + start through the API leaves the timestamps frozen.
	tr := NewTracker(0)
	o := tr.Observe(status(t, 0, 0, true, d(-70), d(-75)), ours)
	require.True(t, judge(o).Stale)
	o = tr.Observe(status(t, 0, sec(10), false, d(-70), d(-75)), ours.Add(sec(10)))
	assert.False(t, judge(o).Stale, "stopped")
	assert.Equal(t, dispatch.StateStopped, judge(o).State(true))
	o = tr.Observe(status(t, 0, sec(20), true, d(-70), d(-75)), ours.Add(sec(20)))
	assert.True(t, o.Restarted, "isRunning flipped")
	assert.False(t, judge(o).Stale, "seen running again: a fresh grace")
	o = tr.Observe(status(t, 0, sec(81), true, d(-70), d(-75)), ours.Add(sec(81)))
	assert.True(t, judge(o).Stale, "still frozen a threshold later")
}

func TestTrackerSlowStartUpAfterARestartIsNotShotAgain(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Observe(status(t, 0, 0, true, d(-300), d(-305)), ours)
	require.True(t, o.Restartable(judge(o)), "wedged and answering: restart it")

	// The kubelet restarts it: nothing listens for a while...
	for s := 5.0; s <= 40; s += 5 {
		o = tr.Fail(true, ours.Add(sec(s)))
		assert.False(t, o.Restartable(judge(o)), "refused at %vs", s)
	}
	// ...then the new process accepts but hangs while it starts...
	for s := 45.0; s <= 95; s += 5 {
		o = tr.Fail(false, ours.Add(sec(s)))
		assert.False(t, o.Restartable(judge(o)), "start-up hang at %vs: %.0fs since the refusal", s, o.Unresponsive.Seconds())
	}
	// ...then answers, started but not yet polling.
	for s := 100.0; s <= 155; s += 5 {
		o = tr.Observe(status(t, 0, sec(s), true, nil, nil), ours.Add(sec(s)))
		assert.False(t, o.Restartable(judge(o)), "in its grace at %vs", s)
	}
	o = tr.Observe(status(t, 0, sec(161), true, nil, nil), ours.Add(sec(161)))
	assert.True(t, o.Restartable(judge(o)), "grace over at 161s: no cycle within the threshold of being seen running")
}

func TestTrackerNotes(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(3600), d(-1))
	o := NewTracker(0).Observe(st, ours)
	assert.Equal(t, []string{"health.lastPollStartedAt is after computedAt: ignored"}, o.Notes)
	assert.True(t, o.Health.LastStarted.IsZero())

	st.Health.ComputedAt = nil
	o = NewTracker(0).Observe(st, ours.Add(-time.Hour))
	assert.Contains(t, o.Notes, "health.computedAt missing: judging on the exporter's clock")
}

func TestTrackerMissingHealth(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(-1), d(-1))
	st.Health = nil
	o := NewTracker(0).Observe(st, ours)
	assert.True(t, o.Up)
	require.NotNil(t, o.Health)
	assert.False(t, o.Health.Observed)
	assert.True(t, o.Health.Running)
	assert.Equal(t, dispatch.StateUnknown, judge(o).State(true))
}

func TestTrackerThresholdPrecedence(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(-1), d(-1))
	assert.Equal(t, time.Minute, judge(NewTracker(0).Observe(st, ours)).Threshold, "default: max(60s, 10 × 5s)")
	ms := 3000.0
	st.Config.PollStaleThresholdMs = &ms
	assert.Equal(t, 3*time.Second, judge(NewTracker(0).Observe(st, ours)).Threshold, "the daemon's own")
	assert.Equal(t, 2*time.Minute, judge(NewTracker(2*time.Minute).Observe(st, ours)).Threshold, "the override")
}

func TestTrackerRestartAnchorsOnTheNewRunsFirstCycle(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Observe(status(t, 0, 0, false, d(-100), d(-99)), ours) // stopped
	// Started again; its first cycle began at 5s and hangs.
	o := tr.Observe(status(t, 0, sec(30), true, d(5), d(-99)), ours.Add(sec(30)))
	require.True(t, o.Restarted)
	assert.Equal(t, ours.Add(sec(5)), o.Health.RunningSince, "the run began no later than its first cycle")
	o = tr.Observe(status(t, 0, sec(66), true, d(5), d(-99)), ours.Add(sec(66)))
	assert.True(t, judge(o).Stale, "61s after the new run's first cycle started, as the daemon itself would judge")
}

func TestTrackerRestartWithinTheSameMillisecond(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Observe(status(t, 0, 0, false, d(-100), d(-99)), ours) // stopped, looked at 0s
	// Started at once: its first cycle is stamped with the same millisecond.
	o := tr.Observe(status(t, 0, sec(30), true, d(0), d(-99)), ours.Add(sec(30)))
	require.True(t, o.Restarted)
	assert.Equal(t, ours, o.Health.RunningSince)
}
