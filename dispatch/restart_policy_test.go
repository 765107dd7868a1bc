package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policyRun is a daemon's tracker and restart policy, fed by these tests
// on our clock (seconds from p0), and what the policy answered.
type policyRun struct {
	t      *testing.T
	tr     *Tracker
	policy RestartPolicy
	// asked counts 503 answers; requests counts the requests begun.
	asked, requests int
	// failures is the kubelet's failureThreshold (probe); inRow counts its
	// 503s in a row, kills the restarts it made.
	failures, inRow, kills int
}

var p0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func pat(s float64) time.Time { return p0.Add(time.Duration(s * float64(time.Second))) }

// newPolicyRun: a kubelet that restarts after failures answers in a row.
func newPolicyRun(t *testing.T, threshold time.Duration, failures int) *policyRun {
	return &policyRun{t: t, tr: NewTracker(threshold), policy: RestartPolicy{FailureThreshold: failures, Budget: 3},
		failures: failures}
}

// live answers liveness on o at s.
func (r *policyRun) live(o Observation, s float64) Liveness {
	var l Liveness
	r.policy, l = r.policy.Next(o, pat(s))
	if l.Restart {
		r.asked++
	}
	if l.Began {
		r.requests++
	}
	return l
}

// probe answers a kubelet's liveness probe on o at s: killed is true when
// this answer is the failures-th 503 in a row, so the kubelet restarts the
// container (and counts afresh).
func (r *policyRun) probe(o Observation, s float64) (l Liveness, killed bool) {
	l = r.live(o, s)
	if !l.Restart {
		r.inRow = 0
		return l, false
	}
	if r.inRow++; r.inRow < r.failures {
		return l, false
	}
	r.inRow = 0
	r.kills++
	return l, true
}

// wedged: a running daemon whose cycle has been in flight since -10s.
func wedged(s float64) Report {
	return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
		ComputedAt: pat(s), LastStarted: pat(-10), LastCompleted: pat(-11)}
}

// cycling: a running daemon whose last cycle started at s-0.1 and completed.
func cycling(s float64) Report {
	return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
		ComputedAt: pat(s), LastStarted: pat(s - 0.2), LastCompleted: pat(s - 0.1)}
}

// noCycleYet: running, no cycle has run (a process in its start-up, or a
// loop that never ticks).
func noCycleYet(s float64) Report {
	return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second, ComputedAt: pat(s)}
}

func (r *policyRun) hang(s, timeout float64) Observation {
	return r.tr.Fail(EvidenceHung, "timeout", pat(s-timeout), pat(s))
}

// A hung daemon restarted into start-ups that accept connections and
// answer nothing for 9s before their first cycle (threshold 3s): a couple
// of restarts, each after a longer grace, and the daemon ends up running.
func TestRestartPolicyBacksOffSoASlowStartUpFinishes(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3) // kubelet: 3 failures 1s apart
	r.tr.Answer(cycling(0), pat(0))
	processStart := -1.0 // the daemon hangs from 1s; each kill starts a 9s start-up that hangs
	for s := 1.0; s <= 120; s++ {
		var o Observation
		switch {
		case processStart >= 0 && s-processStart >= 9:
			o = r.tr.Answer(cycling(s), pat(s))
		default:
			o = r.hang(s, 1)
		}
		if _, killed := r.probe(o, s); killed {
			processStart = s
		}
	}
	assert.LessOrEqual(t, r.kills, 3, "kills bounded by the budget")
	assert.GreaterOrEqual(t, r.kills, 1)
	require.NotEqual(t, -1.0, processStart)
	assert.False(t, r.policy.Spent(), "the last start-up finished and cycled: the episode ended")
	assert.Zero(t, r.policy.Requests(), "a completed cycle restores the budget")
}

// A loop that never cycles is restarted; the new process answers "running,
// no cycle yet", identical to the old one, and cycles 4s after it started
// (threshold 5s), no refusal seen in between: one restart, then its grace.
func TestRestartPolicyGivesTheNextProcessItsGraceWhateverItAnswers(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 5*time.Second, 3)
	started := -1.0
	for s := 0.0; s <= 60; s++ {
		var o Observation
		if started >= 0 && s-started >= 4 {
			o = r.tr.Answer(cycling(s), pat(s))
		} else {
			o = r.tr.Answer(noCycleYet(s), pat(s))
		}
		if _, killed := r.probe(o, s); killed {
			started = s
		}
	}
	assert.Equal(t, 1, r.kills, "one restart: the new process gets its full grace")
	assert.Equal(t, 1, r.requests)
}

// Nobody restarts (no probe wired, a restart that fails): requests come
// further and further apart, then the budget is spent and liveness stops
// asking; the decision, meanwhile, stays WEDGED throughout.
func TestRestartPolicyStopsAskingWhenRestartsDoNotHelp(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3)
	r.tr.Answer(cycling(0), pat(0))
	var began []float64
	spentAt := -1.0
	for s := 1.0; s <= 600; s++ {
		o := r.hang(s, 1)
		if s > 5 {
			require.Equal(t, StateWedged, o.Assessment.State, "%vs: a hang that goes on stays wedged", s)
		}
		l := r.live(o, s)
		if l.Began {
			began = append(began, s)
		}
		if l.GaveUp {
			spentAt = s
		}
		if spentAt >= 0 {
			require.False(t, l.Restart, "%vs: budget spent", s)
			require.True(t, l.Spent)
		}
	}
	require.Len(t, began, 3, "the budget: three requests")
	assert.Greater(t, began[2]-began[1], began[1]-began[0], "each grace longer than the last")
	assert.Positive(t, spentAt)
	assert.True(t, r.policy.Spent())
}

// A request answers 503 to at most failureThreshold probes in a row, however
// slowly they come, and a refusal (the process is gone) ends it at once.
func TestRestartPolicyRequestEndsOnItsCountOrANewProcess(t *testing.T) {
	t.Parallel()
	for _, every := range []float64{1, 7, 45} { // seconds between probes
		r := newPolicyRun(t, 3*time.Second, 10)
		r.tr.Answer(cycling(0), pat(0))
		var perRequest []int
		for s := every; s <= 200*every; s += every {
			l := r.live(r.hang(s, min(every, 5)), s)
			if l.Began {
				perRequest = append(perRequest, 0)
			}
			if l.Restart {
				perRequest[len(perRequest)-1]++
			}
		}
		assert.Equal(t, []int{10, 10, 10}, perRequest, "probes %vs apart: the budget's requests, each the kubelet's count of 503s", every)
	}

	r := newPolicyRun(t, 3*time.Second, 10)
	r.tr.Answer(cycling(0), pat(0))
	for s := 1.0; s <= 6; s++ {
		r.live(r.hang(s, 1), s)
	}
	asked := r.asked
	require.Positive(t, asked)
	l := r.live(r.tr.Fail(EvidenceRefused, "connection refused", pat(7), pat(7)), 7)
	assert.False(t, l.Restart, "refused: the restart is happening")
	for s := 8.0; s <= 12; s++ { // the new process hangs in its start-up
		l = r.live(r.hang(s, 1), s)
		assert.False(t, l.Restart, "%vs: the new process's grace", s)
	}
}

// Answers that flip between usable and unusable while the daemon reports a
// wedge, after liveness answered 503: the decision stays WEDGED (a 503 is
// no evidence) and liveness never asks on an unusable answer.
func TestRestartPolicyNeverFeedsTheDecision(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3)
	for s := 0.0; s <= 120; s++ {
		var o Observation
		if int(s)%2 == 0 {
			o = r.tr.Answer(wedged(s), pat(s))
		} else {
			o = r.tr.Fail(EvidenceUnusable, "health missing", pat(s), pat(s))
		}
		require.True(t, o.Assessment.Stale, "%vs", s)
		l := r.live(o, s)
		if o.Assessment.Evidence == EvidenceUnusable && l.Restart {
			// Only within a request begun on a usable answer, never begun on one.
			require.False(t, l.Began, "%vs", s)
		}
	}
	assert.Positive(t, r.requests, "liveness asked for restarts (the decision stayed stale after it did)")
	assert.LessOrEqual(t, r.requests, 3)
}

// Shadow mode previews a request and commits nothing.
func TestRestartPolicyPreviewCommitsNothing(t *testing.T) {
	t.Parallel()
	tr := NewTracker(3 * time.Second)
	tr.Answer(cycling(0), pat(0))
	var p RestartPolicy
	for s := 1.0; s <= 100; s++ {
		_, l := p.Next(tr.Fail(EvidenceHung, "timeout", pat(s-1), pat(s)), pat(s))
		if s > 5 {
			require.True(t, l.Restart, "%vs: would ask", s)
			require.Equal(t, 1, l.Requests)
		}
	}
	assert.Zero(t, p.Requests())
}
