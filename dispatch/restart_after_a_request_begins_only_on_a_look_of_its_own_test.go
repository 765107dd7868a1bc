package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a request, a look that says nothing new (an unusable answer, a
// caller that stopped waiting) never begins the next one, even when a
// scrape's answer about the new process said restart since: the next
// request rests on a liveness probe's own usable answer. Here the new
// process shows its own wedge to a scrape at 40s, long after its grace;
// the probe at 41s gets an HTTP 500 and answers 200; the probe at 42s reads
// the wedge itself and begins request 2.
func TestAfterARequestOnlyALookOfItsOwnBeginsTheNext(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 3*time.Second, 3)
	for s := 1.0; s <= 3; s++ {
		r.probe(r.tr.Answer(wedged(s), pat(s)), s)
	}
	require.Equal(t, 1, r.kills, "request 1 answered its count")
	// The new process, started at 34s, has had a cycle in flight since.
	newWedged := func(s float64) Report {
		return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
			ComputedAt: pat(s), LastStarted: pat(34)}
	}
	o := r.tr.Answer(newWedged(40), pat(40)) // a scrape
	require.True(t, o.Restarted)
	require.True(t, o.Assessment.Restart, "the new process's own wedge: %s", o.Assessment.Reason)

	l := r.live(r.tr.Fail(EvidenceUnusable, "HTTP 500", pat(41), pat(41)), 41)
	assert.False(t, l.Restart, "an answer that says nothing new began request 2 on a scrape's decision: %s", l.Reason)
	l = r.live(r.tr.Answer(newWedged(42), pat(42)), 42)
	assert.True(t, l.Began, "the probe's own answer shows the wedge: %s", l.Reason)
	assert.Equal(t, 2, r.requests)
}
