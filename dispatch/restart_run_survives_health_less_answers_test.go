package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The daemon reports its own wedge (a cycle in flight for minutes) and,
// one answer in three, cannot compute its health (the same reason the loop
// hangs). Enforce mode; kubelet: periodSeconds 1, failureThreshold 3;
// --liveness.failure-threshold 3, as the probe's.
//
// An answer without health says nothing of the loop: within a restart
// request it goes on answering 503 rather than ending the run (which would
// reset the kubelet's count every third probe), so a run reaches the
// kubelet's count and the process is restarted before the budget is
// spent. The page stays up throughout.
func TestAWedgeWithHealthLessAnswersIsRestartedBeforeTheBudgetIsSpent(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3)
	wedgedLong := func(s float64) Report {
		return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
			ComputedAt: pat(s), LastStarted: pat(-600), LastCompleted: pat(-601)}
	}
	healthLess := Report{Available: true, Running: true, Interval: time.Second}
	spentAt := -1.0
	for s := 0.0; s <= 600; s++ {
		var o Observation
		if int(s)%3 == 2 {
			o = r.tr.Answer(healthLess, pat(s))
		} else {
			o = r.tr.Answer(wedgedLong(s), pat(s))
		}
		assert.True(t, o.Assessment.Stale, "%vs: the page stays up", s)
		l, _ := r.probe(o, s) // a kill here does not help
		if l.GaveUp {
			spentAt = s
		}
	}
	assert.Positive(t, r.kills, "a visible wedge, budget left: some 503 run must reach failureThreshold (%d requests, %d 503s, budget spent at %vs)",
		r.requests, r.asked, spentAt)
}
