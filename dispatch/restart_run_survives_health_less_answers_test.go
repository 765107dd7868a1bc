package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// History: the daemon reports its own wedge (a cycle in flight for minutes)
// and, one answer in three, cannot compute its health (the same reason the
// loop hangs). Enforce mode; kubelet: periodSeconds 1, failureThreshold 3;
// --liveness.failure-threshold 3, as the probe's.
//
//	0s  usable, stale: request 1 begins (503)    kubelet 1/3
//	1s  usable, stale: 503                       kubelet 2/3
//	2s  health missing: Restart false, the run ends (200): kubelet count reset
//	9s  request 2 (after 6s of grace) ... cut again at 11s
//	24s request 3 ... cut again at 26s
//	51s budget spent: "restarts brought no completed cycle back", 200 forever
//
// No restart ever happened, yet the budget is spent and
// DispatchRestartsNotHelping tells a person that restarts do not help.
// An unusable answer says nothing of the loop: it should not end a run
// (nor should a request that could not reach the kubelet's count be spent).
func TestAWedgeWithHealthLessAnswersIsRestartedBeforeTheBudgetIsSpent(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3)
	wedged := func(s float64) Report {
		return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
			ComputedAt: pat(s), LastStarted: pat(-600), LastCompleted: pat(-601)}
	}
	healthLess := Report{Available: true, Running: true, Interval: time.Second}
	consecutive, kills, spentAt := 0, 0, -1.0
	for s := 0.0; s <= 600; s++ {
		var o Observation
		if int(s)%3 == 2 {
			o = r.tr.Answer(healthLess, pat(s))
		} else {
			o = r.tr.Answer(wedged(s), pat(s))
		}
		assert.True(t, o.Assessment.Stale, "%vs: the page stays up", s)
		l := r.live(o, s)
		if l.Restart {
			consecutive++
		} else {
			consecutive = 0
		}
		if consecutive == 3 { // the kubelet kills; here the kill does not help
			kills, consecutive = kills+1, 0
		}
		if l.GaveUp {
			spentAt = s
		}
	}
	assert.Positive(t, kills, "a visible wedge, budget left: some 503 run must reach failureThreshold (%d requests, %d 503s)", r.requests, r.asked)
	if kills == 0 {
		assert.Negative(t, spentAt, "budget declared spent at %vs after %d requests although the kubelet never restarted anything", spentAt, r.requests)
	}
}
