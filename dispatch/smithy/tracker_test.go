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

func judge(o Observation) dispatch.Verdict { return o.Assessment.Verdict }

// hang is a request that started at our time s-5 and timed out at s.
func hang(tr *Tracker, s float64) Observation {
	return tr.Fail(dispatch.EvidenceHung, "timeout", ours.Add(sec(s-5)), ours.Add(sec(s)))
}

func refused(tr *Tracker, s float64) Observation {
	return tr.Fail(dispatch.EvidenceRefused, "connection refused", ours.Add(sec(s)), ours.Add(sec(s)))
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
		"stopped-after-60s.json":    {0, dispatch.StateStuck}, // smithy: pollStale; ours: stopped, nothing in flight, never stale
		"restarted.json":            {0, dispatch.StateStuck},
		"nogit.json":                {0, dispatch.StateStopped},
	}
	for name, body := range samples(t) {
		c, ok := cases[name]
		require.True(t, ok, "a case for every sample: %s", name)
		st, err := Decode(body)
		require.NoError(t, err)
		a := NewTracker(c.threshold).Answer(st, ours).Assessment
		require.True(t, a.Up, name)
		assert.Equal(t, dispatch.EvidenceUsable, a.Evidence, name)
		assert.Equal(t, c.state, a.State, "%s: %s", name, a.Reason)
		assert.Equal(t, c.state == dispatch.StateWedged, a.Stale, name)
		assert.Equal(t, a.Stale, a.Restart, "%s: a usable answer showing a wedge is evidence about the process that serves", name)
	}
}

func TestTrackerJudgesOnTheDaemonsClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{0, 2 * time.Hour, -2 * time.Hour} {
		tr := NewTracker(0)
		o := tr.Answer(status(t, skew, 0, true, d(-59), d(-61)), ours)
		assert.False(t, judge(o).Stale, "skew %s: 59s in flight", skew)
		o = tr.Answer(status(t, skew, sec(2), true, d(-59), d(-61)), ours.Add(sec(2)))
		assert.True(t, judge(o).Stale, "skew %s: 61s in flight", skew)
		assert.Equal(t, sec(61), judge(o).Age, "skew %s", skew)
	}
}

// Without computedAt there is no daemon "now": ages run from when each
// timestamp was first seen, on our clock, so no skew can fake or hide a
// wedge; a timestamp that stops moving turns stale a threshold after it was
// first seen.
func TestTrackerWithoutComputedAtJudgesByMovement(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{10 * time.Second, -10 * time.Second, 2 * time.Hour, -2 * time.Hour} {
		tr := NewTracker(0)
		answer := func(s float64, started, completed *time.Duration) Observation {
			st := status(t, skew, sec(s), true, started, completed)
			st.Health.ComputedAt = nil
			return tr.Answer(st, ours.Add(sec(s)))
		}
		for s := 0.0; s <= 300; s += 5 { // a cycle every 5s
			o := answer(s, d(s-1), d(s-0.9))
			require.False(t, o.Assessment.Stale, "skew %s at %vs: %s", skew, s, o.Assessment.Reason)
			require.Equal(t, dispatch.StateHealthy, o.Assessment.State)
		}
		// At 301s a cycle starts and hangs: its stamp stops moving.
		for s := 305.0; s <= 365; s += 5 {
			o := answer(s, d(301), d(299.1))
			require.False(t, o.Assessment.Stale, "skew %s at %vs: first seen at 305s", skew, s)
			require.True(t, o.Health.InFlight(), "the cycle stays in flight on our clock")
		}
		o := answer(366, d(301), d(299.1))
		assert.True(t, o.Assessment.Stale, "skew %s: 61s since the hung cycle's start was first seen", skew)
		assert.Equal(t, sec(61), o.Assessment.Verdict.Age)
		started, _ := o.Health.Reported()
		assert.True(t, ours.Add(sec(301)+skew).Equal(started), "exported as the daemon stamped it")
	}
}

// A new process that does not report computedAt, on a clock unlike the old
// one's (a rollback on another node): the old offset is forgotten with the
// old process, and the new one is judged by when its timestamps are first
// seen. Cycling every 5s, it is never stale.
func TestTrackerNewProcessWithoutComputedAtOnAnotherClockIsNotStale(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{2 * time.Minute, -2 * time.Minute, 20 * time.Second} {
		tr := NewTracker(0)
		for s := 0.0; s <= 30; s += 15 {
			tr.Answer(status(t, 0, sec(s), true, d(s-1), d(s-0.9)), ours.Add(sec(s)))
		}
		refused(tr, 40) // the old process is gone
		// A healthy new process: a cycle every 5s.
		for s := 50.0; s <= 300; s += 15 {
			st := status(t, skew, sec(s), true, d(s-1), d(s-0.9))
			st.Health.ComputedAt = nil
			o := tr.Answer(st, ours.Add(sec(s)))
			require.False(t, o.Assessment.Stale, "skew %s at %vs: %s", skew, s, o.Assessment.Reason)
			require.False(t, o.Assessment.Restart, "skew %s at %vs", skew, s)
		}
	}
}

func TestTrackerHangTurnsStaleOnlyOnceItOutlastsTheThreshold(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Answer(status(t, time.Hour, 0, true, d(-2), d(-1.9)), ours)
	require.False(t, o.Assessment.Stale)

	o = hang(tr, 10) // the first unanswered request started at 5s
	assert.False(t, o.Assessment.Up)
	assert.Equal(t, dispatch.EvidenceHung, o.Assessment.Evidence)
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
	require.NotNil(t, o.Health)
	assert.False(t, o.Health.QueueKnown, "the queue is unknown while the daemon hangs")

	o = hang(tr, 64)
	assert.True(t, judge(o).Stale, "65.9s since the last completion, on our monotonic clock")
	assert.False(t, o.Assessment.Stale, "hung 59s: a process that replaced the last one unseen may be starting")
	assert.Equal(t, dispatch.StateDown, o.Assessment.State, o.Assessment.Reason)

	o = hang(tr, 66)
	assert.True(t, o.Assessment.Stale, "hung 61s")
	assert.True(t, o.Assessment.Restart, "hung longer than the threshold: restart it")
	assert.Equal(t, dispatch.StateWedged, o.Assessment.State)
	assert.Equal(t, sec(67.9), judge(o).Age, "aged from the last completion the daemon reported")
}

// A wedge already judged goes on through a hang (a hang is no recovery),
// but asks for a restart only once the hang outlasts the threshold: the
// process that hangs may be the one the last restart started.
func TestTrackerWedgeGoesOnThroughAHang(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Answer(status(t, 0, 0, true, d(-300), d(-305)), ours)
	require.True(t, o.Assessment.Restart)
	o = hang(tr, 10)
	assert.True(t, o.Assessment.Stale)
	assert.Equal(t, dispatch.StateWedged, o.Assessment.State)
	assert.False(t, o.Assessment.Restart)
	o = hang(tr, 66)
	assert.True(t, o.Assessment.Restart)
}

// One answer without health between a good one and a hang: the hang is
// judged from the answer that had health.
func TestTrackerHangJudgedFromTheLastAnswerWithHealth(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Answer(status(t, 0, 0, true, d(-2), d(-1.9)), ours)
	st := status(t, 0, sec(5), true, d(3), d(3.1))
	st.Health = nil
	o := tr.Answer(st, ours.Add(sec(5)))
	assert.Equal(t, dispatch.EvidenceUnusable, o.Assessment.Evidence)
	assert.False(t, o.Assessment.Up)
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
	for s := 15.0; s <= 75; s += 5 {
		o = hang(tr, s)
	}
	assert.True(t, o.Assessment.Stale, o.Assessment.Reason)
	assert.True(t, o.Assessment.Restart)
	assert.Equal(t, sec(76.9), judge(o).Age)
}

// Unusable answers and refusals, however long, never make a wedge or a 503:
// the process answers (a restart cannot fix a 401), or nothing listens.
func TestTrackerUnusableAndRefusedNeverWedge(t *testing.T) {
	t.Parallel()
	for _, e := range []dispatch.Evidence{dispatch.EvidenceUnusable, dispatch.EvidenceRefused} {
		tr := NewTracker(0)
		tr.Answer(status(t, 0, 0, true, d(-2), d(-1.9)), ours)
		for s := 5.0; s <= 600; s += 5 {
			o := tr.Fail(e, "HTTP 401", ours.Add(sec(s)), ours.Add(sec(s)))
			require.False(t, o.Assessment.Stale, "%s at %vs", e, s)
			require.False(t, o.Assessment.Restart, "%s at %vs", e, s)
			require.Equal(t, dispatch.StateDown, o.Assessment.State)
			require.False(t, o.Assessment.Up)
		}
	}
}

// A refusal ends what was known: a wedge of the process that is gone is
// not carried on to whatever listens next.
func TestTrackerRefusalEndsAWedge(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	require.True(t, tr.Answer(status(t, 0, 0, true, d(-300), d(-305)), ours).Assessment.Stale)
	o := refused(tr, 5)
	assert.False(t, o.Assessment.Stale)
	assert.Nil(t, o.Health)
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
	o = hang(tr, 30)
	assert.False(t, o.Assessment.Stale, "nothing known of the new process")
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
}

func TestTrackerNothingKnownBeforeTheFirstAnswer(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := hang(tr, 5)
	assert.Nil(t, o.Health)
	o = refused(tr, 3600)
	assert.Nil(t, o.Health)
	assert.False(t, o.Assessment.Restart)
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
}

func TestTrackerPendingRequestIsNoNewEvidence(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Answer(status(t, 0, 0, true, d(-2), d(-1.9)), ours)
	o := tr.Pending("no answer within this caller's deadline", ours.Add(sec(10)), ours.Add(sec(12)))
	assert.False(t, o.Assessment.Up, "this caller read nothing")
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
	assert.False(t, o.Assessment.Stale)
	assert.False(t, o.Assessment.Restart)

	tr.Answer(status(t, 0, 0, true, d(-300), d(-305)), ours)
	o = tr.Pending("no answer within this caller's deadline", ours.Add(sec(10)), ours.Add(sec(12)))
	assert.True(t, o.Assessment.Stale, "a wedge judged before is carried: no evidence it ended")
	assert.Equal(t, dispatch.StateWedged, o.Assessment.State)
	assert.False(t, o.Assessment.Restart, "a request unanswered for 2s is no evidence about the process that serves")

	// A hang under way goes on counting.
	tr = NewTracker(0)
	tr.Answer(status(t, 0, 0, true, d(-2), d(-1.9)), ours)
	for s := 10.0; s <= 70; s += 10 {
		hang(tr, s)
	}
	o = tr.Pending("no answer within this caller's deadline", ours.Add(sec(75)), ours.Add(sec(77)))
	assert.Equal(t, dispatch.EvidenceHung, o.Assessment.Evidence)
	assert.True(t, o.Assessment.Restart, "hung since 5s: 72s, past the threshold")
	assert.Equal(t, ours.Add(sec(5)), o.HungSince)
}

func TestTrackerFirstSightOfAWedgedDaemonIsStaleAtOnce(t *testing.T) {
	t.Parallel()
	o := NewTracker(0).Answer(status(t, 0, 0, true, d(-3600), d(-3605)), ours)
	assert.False(t, o.Restarted)
	assert.True(t, judge(o).Stale, "an exporter restart gives no grace to a daemon that was already wedged")
}

func TestTrackerNeverStartedIsStaleAfterTheThreshold(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Answer(status(t, 0, 0, true, nil, nil), ours)
	assert.False(t, judge(o).Stale)
	o = tr.Answer(status(t, 0, sec(59), true, nil, nil), ours.Add(sec(59)))
	assert.False(t, judge(o).Stale)
	o = tr.Answer(status(t, 0, sec(61), true, nil, nil), ours.Add(sec(61)))
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
		o := tr.Answer(status(t, 0, 0, true, d(-3600), d(-3605)), ours)
		require.True(t, judge(o).Stale, name)

		o = tr.Answer(after(100), ours.Add(sec(100)))
		assert.True(t, o.Restarted, name)
		assert.False(t, judge(o).Stale, "%s: the previous run's timestamps never feed the new run's verdict", name)
		assert.False(t, o.Assessment.Restart, name)

		o = tr.Answer(after(159), ours.Add(sec(159)))
		assert.False(t, o.Restarted, name)
		assert.False(t, judge(o).Stale, "%s: 59s into the grace", name)
		o = tr.Answer(after(161), ours.Add(sec(161)))
		assert.True(t, judge(o).Stale, "%s: grace over, still no cycle", name)
	}
}

func TestTrackerWedgeSurvivesStopAndStart(t *testing.T) {
	t.Parallel()
	// smithy: stop + start through the API leaves the timestamps frozen,
	// the hung cycle still in flight (started after the last completion).
	tr := NewTracker(0)
	o := tr.Answer(status(t, 0, 0, true, d(-70), d(-75)), ours)
	require.True(t, o.Assessment.Stale)
	o = tr.Answer(status(t, 0, sec(10), false, d(-70), d(-75)), ours.Add(sec(10)))
	assert.True(t, o.Assessment.Stale, "a stop is not a recovery: %s", o.Assessment.Reason)
	assert.True(t, o.Assessment.Restart)
	assert.Equal(t, dispatch.StateWedged, o.Assessment.State)
	o = tr.Answer(status(t, 0, sec(20), true, d(-70), d(-75)), ours.Add(sec(20)))
	assert.True(t, o.NewRun, "isRunning flipped")
	assert.False(t, o.Restarted, "the same process")
	assert.True(t, o.Assessment.Stale, "a start while the same cycle is in flight is no new run")
	assert.True(t, o.Assessment.Restart, "only a process restart clears it")
	assert.Equal(t, sec(90), judge(o).Age, "aged from the hung cycle's start")
}

// A stopped loop with nothing in flight is never stale, however old its
// last completion (smithy's own pollStale false alarm).
func TestTrackerStoppedIsNotStale(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Answer(status(t, 0, 0, true, d(-2), d(-1.9)), ours)
	o := tr.Answer(status(t, 0, sec(600), false, d(-2), d(-1.9)), ours.Add(sec(600)))
	assert.False(t, o.Assessment.Stale)
	assert.Equal(t, dispatch.StateStopped, o.Assessment.State)
}

func TestTrackerSlowStartUpAfterARestartIsNotShotAgain(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	o := tr.Answer(status(t, 0, 0, true, d(-300), d(-305)), ours)
	require.True(t, o.Assessment.Restart, "wedged and answering: restart it")

	// The kubelet restarts it: nothing listens for a while...
	for s := 5.0; s <= 40; s += 5 {
		o = refused(tr, s)
		assert.False(t, o.Assessment.Restart, "refused at %vs", s)
	}
	// ...then the new process accepts but hangs while it starts...
	for s := 45.0; s <= 95; s += 5 {
		o = hang(tr, s)
		assert.False(t, o.Assessment.Restart, "start-up hang at %vs", s)
		assert.False(t, o.Assessment.Stale, "start-up hang at %vs", s)
	}
	// ...then answers 503 "starting" for a while...
	for s := 100.0; s <= 200; s += 5 {
		o = tr.Fail(dispatch.EvidenceUnusable, "HTTP 503", ours.Add(sec(s)), ours.Add(sec(s)))
		assert.False(t, o.Assessment.Restart, "starting at %vs", s)
	}
	// ...then answers, started but not yet polling.
	for s := 205.0; s <= 260; s += 5 {
		o = tr.Answer(status(t, 0, sec(s), true, nil, nil), ours.Add(sec(s)))
		assert.False(t, o.Assessment.Restart, "in its grace at %vs", s)
	}
	o = tr.Answer(status(t, 0, sec(266), true, nil, nil), ours.Add(sec(266)))
	assert.True(t, o.Assessment.Restart, "grace over at 266s: no cycle within the threshold of being seen running")
}

func TestTrackerNotes(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(3600), d(-1))
	o := NewTracker(0).Answer(st, ours)
	// An hour past computedAt at first sight: the clock may have stepped
	// back before we looked; the stamp counts from now, on our clock.
	assert.Equal(t, []string{"health.computedAt is behind the cycle stamps at first sight: the daemon's clock may have stepped back; stamps count from when they are first seen, until new cycles run"}, o.Notes)
	assert.Equal(t, ours, o.Health.LastStarted)
	assert.True(t, o.Health.InFlight())
	// Within a moment of computedAt (a cycle that ran while the daemon
	// computed its answer): progress made now, not ignored.
	st = status(t, 0, 0, true, d(0.5), d(0.6))
	o = NewTracker(0).Answer(st, ours)
	assert.Equal(t, []string{"health.lastPollStartedAt is after computedAt: taken as computedAt",
		"health.lastPollCompletedAt is after computedAt: taken as computedAt"}, o.Notes)
	assert.Equal(t, o.Health.Now, o.Health.LastCompleted)

	st.Health.ComputedAt = nil
	o = NewTracker(0).Answer(st, ours.Add(-time.Hour))
	assert.Contains(t, o.Notes, "health.computedAt missing: ages measured from when each timestamp was first seen")
	assert.False(t, o.Health.LastStarted.IsZero(), "without computedAt no timestamp is in the future")
}

func TestTrackerMissingHealthIsUnusable(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(-1), d(-1))
	st.Health = nil
	o := NewTracker(0).Answer(st, ours)
	assert.False(t, o.Assessment.Up)
	assert.Equal(t, dispatch.EvidenceUnusable, o.Assessment.Evidence)
	assert.Equal(t, dispatch.StateDown, o.Assessment.State)
	assert.Nil(t, o.Health, "nothing known of the loop")
}

func TestTrackerThresholdPrecedence(t *testing.T) {
	t.Parallel()
	st := status(t, 0, 0, true, d(-1), d(-1))
	assert.Equal(t, time.Minute, judge(NewTracker(0).Answer(st, ours)).Threshold, "default: max(60s, 10 × 5s)")
	ms := 30000.0
	st.Config.PollStaleThresholdMs = &ms
	assert.Equal(t, 30*time.Second, judge(NewTracker(0).Answer(st, ours)).Threshold, "the daemon's own")
	assert.Equal(t, 2*time.Minute, judge(NewTracker(2*time.Minute).Answer(st, ours)).Threshold, "the override")
}

func TestTrackerNewRunAnchorsOnItsFirstCycle(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Answer(status(t, 0, 0, false, d(-100), d(-99)), ours) // stopped
	// Started again; its first cycle began at 5s and hangs.
	o := tr.Answer(status(t, 0, sec(30), true, d(5), d(-99)), ours.Add(sec(30)))
	require.True(t, o.NewRun)
	assert.Equal(t, ours.Add(sec(5)), o.Health.RunningSince, "the run began no later than its first cycle")
	o = tr.Answer(status(t, 0, sec(66), true, d(5), d(-99)), ours.Add(sec(66)))
	assert.True(t, judge(o).Stale, "61s after the new run's first cycle started, as the daemon itself would judge")
}

func TestTrackerNewRunWithinTheSameMillisecond(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	tr.Answer(status(t, 0, 0, false, d(-100), d(-99)), ours) // stopped, looked at 0s
	// Started at once: its first cycle is stamped with the same millisecond.
	o := tr.Answer(status(t, 0, sec(30), true, d(0), d(-99)), ours.Add(sec(30)))
	require.True(t, o.NewRun)
	assert.Equal(t, ours, o.Health.RunningSince)
}

// A wedge judged from usable answers goes on through answers that say
// nothing of the loop (500, health missing): no flapping that would keep
// the page from firing. They never ask for a restart themselves.
func TestTrackerUnusableAnswersDoNotEndAWedge(t *testing.T) {
	t.Parallel()
	for _, healthless := range []bool{false, true} {
		tr := NewTracker(0)
		for i, s := 0, 0.0; s <= 300; i, s = i+1, s+15 {
			var o Observation
			switch {
			case i%3 != 2:
				o = tr.Answer(status(t, 0, sec(s), true, d(-70), d(-75)), ours.Add(sec(s)))
				require.True(t, o.Assessment.Restart)
			case healthless:
				st := status(t, 0, sec(s), true, d(-70), d(-75))
				st.Health = nil
				o = tr.Answer(st, ours.Add(sec(s)))
				require.False(t, o.Assessment.Restart, "not on an answer without health")
			default:
				o = tr.Fail(dispatch.EvidenceUnusable, "http_status: 500", ours.Add(sec(s)), ours.Add(sec(s)))
				require.False(t, o.Assessment.Restart, "not on a 500")
			}
			require.True(t, o.Assessment.Stale, "%vs (health-less %v): the same hung cycle throughout", s, healthless)
			require.Equal(t, dispatch.StateWedged, o.Assessment.State)
		}
	}
}

// After a wedge, 401s for minutes (the wedged process behind a rotated
// token, or a new one: the answers cannot tell), then one timeout: the
// wedge is carried (nothing shows it ended), but a hang of seconds is no
// reason to restart whatever serves now.
func TestTrackerOneTimeoutAfterUnusableAnswersIsNoRestart(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0) // threshold 60s (interval 5s)
	// A real wedge: a cycle in flight for 70s, answered usable.
	o := tr.Answer(status(t, 0, 0, true, d(-70), d(-75)), ours)
	require.True(t, o.Assessment.Restart, "setup: the wedge")
	// The kubelet restarts the process (no refusal seen).
	// The new process answers 401 (a rotated token, say) for 5 minutes.
	for s := 15.0; s <= 300; s += 15 {
		o = tr.Fail(dispatch.EvidenceUnusable, "http_status: 401", ours.Add(sec(s)), ours.Add(sec(s)))
		assert.Equal(t, dispatch.StateWedged, o.Assessment.State, "%vs: carried, a 401 says nothing of the loop", s)
		assert.False(t, o.Assessment.Restart, "%vs: never on a 401", s)
	}
	// One request of the new process times out (a GC pause, a slow disk).
	o = hang(tr, 305)
	assert.True(t, o.Assessment.Stale, "still no evidence that the wedge ended: %s", o.Assessment.Reason)
	assert.False(t, o.Assessment.Restart, "one 5s timeout is no reason to restart what serves now: %s", o.Assessment.Reason)
}

// One answer without health between a wedge in the making and a hang: the
// hang is judged from the answer that had health, at once.
func TestTrackerHealthlessAnswerDoesNotInterrupt(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	require.False(t, tr.Answer(status(t, 0, 0, true, d(-50), d(-55)), ours).Assessment.Stale)
	st := status(t, 0, sec(2), true, d(-50), d(-55))
	st.Health = nil
	tr.Answer(st, ours.Add(sec(2)))
	o := hang(tr, 9)
	assert.False(t, o.Assessment.Stale, "in flight 59s")
	o = hang(tr, 12)
	assert.True(t, o.Assessment.Stale, "in flight 62s, seen in flight at the last answer with health")
}

// computedAt on some answers and not others: the daemon's clock is taken
// from the last answer that had it, so a wedge does not flap.
func TestTrackerComputedAtIntermittent(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	for i, s := 0, 0.0; s <= 300; i, s = i+1, s+15 {
		st := status(t, 0, sec(s), true, d(-70), d(-75))
		if i%2 == 1 {
			st.Health.ComputedAt = nil
		}
		o := tr.Answer(st, ours.Add(sec(s)))
		require.True(t, o.Assessment.Stale, "%vs", s)
	}
}

// A step of the daemon's clock between two answers (NTP, a resumed VM)
// neither fakes a wedge nor hides one: timestamps stamped before the step
// age from when they were first seen, on our clock.
func TestTrackerDaemonClockStep(t *testing.T) {
	t.Parallel()
	for _, step := range []time.Duration{5 * time.Minute, -5 * time.Minute} {
		tr := NewTracker(0)
		for s := 0.0; s <= 60; s += 5 {
			require.False(t, tr.Answer(status(t, 0, sec(s), true, d(s-1), d(s-0.9)), ours.Add(sec(s))).Assessment.Stale)
		}
		// The clock steps; the cycle that starts at 61s (old clock) hangs.
		st := status(t, 0, sec(63)+step, true, d(61), d(59.1))
		o := tr.Answer(st, ours.Add(sec(63)))
		assert.False(t, o.Assessment.Stale, "step %s: the last cycle started 2s ago: %s", step, o.Assessment.Reason)
		assert.Contains(t, o.Notes, "the daemon's clock stepped against ours: stamps from before the step keep the age they had, new ones count from when they are first seen, until new cycles run")
		for s := 65.0; s <= 120; s += 5 {
			o = tr.Answer(status(t, 0, sec(s)+step, true, d(61), d(59.1)), ours.Add(sec(s)))
			require.False(t, o.Assessment.Stale, "step %s at %vs", step, s)
		}
		o = tr.Answer(status(t, 0, sec(125)+step, true, d(61), d(59.1)), ours.Add(sec(125)))
		assert.True(t, o.Assessment.Stale, "step %s: hung 62s since first seen: the step hides no wedge", step)
		// New cycles run: back on the daemon's clock.
		o = tr.Answer(status(t, step, sec(130), true, d(129), d(129.5)), ours.Add(sec(130)))
		assert.False(t, o.Assessment.Stale)
		if step > 0 { // back on the daemon's clock (a step back reads as timestamps moving backwards: a fresh grace)
			assert.Equal(t, sec(0.5), o.Assessment.Verdict.Age, "judged on the daemon's clock again")
		}
	}
}

// A wedge judged before the daemon's clock steps stays judged: the hung
// cycle's stamp keeps the age it had (a step is no evidence the loop
// recovered), whichever way the clock jumps.
func TestTrackerWedgeOutlastsAClockStep(t *testing.T) {
	t.Parallel()
	for _, step := range []time.Duration{47 * time.Minute, -47 * time.Minute, 20 * time.Second} {
		tr := NewTracker(0)
		for s := 0.0; s <= 60; s += 15 {
			tr.Answer(status(t, 0, sec(s), true, d(-100), d(-101)), ours.Add(sec(s)))
		}
		for s := 75.0; s <= 300; s += 15 {
			o := tr.Answer(status(t, 0, sec(s)+step, true, d(-100), d(-101)), ours.Add(sec(s)))
			require.True(t, o.Assessment.Stale, "step %s at %vs: %s", step, s, o.Assessment.Reason)
			assert.GreaterOrEqual(t, o.Assessment.Verdict.Age, sec(100+s), "step %s at %vs: the cycle's age kept", step, s)
		}
	}
}

// A new cycle that starts while the one seen in flight never completed
// comes from a new process (one loop runs one cycle at a time): it gets a
// fresh grace, however its stamps move.
func TestTrackerNewCycleOverAHungOneIsANewProcess(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	require.True(t, tr.Answer(status(t, 0, 0, true, d(-100), nil), ours).Assessment.Stale, "a first cycle in flight for 100s")
	o := tr.Answer(status(t, 0, sec(30), true, d(29), nil), ours.Add(sec(30)))
	assert.True(t, o.Restarted, "a new first cycle over the hung one: a new process")
	assert.False(t, o.Assessment.Stale, "its cycle started 1s ago: %s", o.Assessment.Reason)
}
