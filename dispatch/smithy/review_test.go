package smithy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// After a wedge, 401s for minutes (the wedged process behind a rotated
// token, or a new one: the answers cannot tell), then one timeout: the
// wedge is carried (nothing shows it ended), but a hang of seconds is no
// reason to restart whatever serves now.
func TestTrackerOneTimeoutAfterUnusableAnswersIsNoRestart(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0) // threshold 60s (interval 5s)
	// A real wedge: a cycle in flight for 70s, answered usable.
	o := tr.Answer(status(t, 0, 0, true, d(-70), d(-75)), ours)
	if !o.Assessment.Restart {
		t.Fatal("setup: expected the wedge")
	}
	// The kubelet restarts the process (no refusal seen).
	// The new process answers 401 (a rotated token, say) for 5 minutes.
	for s := 15.0; s <= 300; s += 15 {
		o = tr.Fail(dispatch.EvidenceUnusable, "http_status: 401", ours.Add(sec(s)), ours.Add(sec(s)))
		assert.Equal(t, dispatch.StateWedged, o.Assessment.State, "%vs: carried, a 401 says nothing of the loop", s)
		assert.False(t, o.Assessment.Restart, "%vs: never on a 401", s)
	}
	// One request of the new process times out (a GC pause, a slow disk).
	o = hang(tr, 305)
	t.Logf("HungFor-based decision after ONE 5s timeout: state=%s stale=%v restart=%v: %s",
		o.Assessment.State, o.Assessment.Stale, o.Assessment.Restart, o.Assessment.Reason)
	assert.True(t, o.Assessment.Stale, "still no evidence that the wedge ended")
	assert.False(t, o.Assessment.Restart, "one 5s timeout is no reason to restart what serves now")
}

// A new process that does not report computedAt, on a clock unlike the old
// one's (a rollback on another node): the old offset is forgotten, and it
// is judged by when its timestamps are first seen: no false wedge.
func TestTrackerNewProcessWithoutComputedAtOnAnotherClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{2 * time.Minute, -2 * time.Minute, 20 * time.Second} {
		tr := NewTracker(0)
		for s := 0.0; s <= 30; s += 15 {
			tr.Answer(status(t, 0, sec(s), true, d(s-1), d(s-0.9)), ours.Add(sec(s)))
		}
		refused(tr, 40) // the old process is gone
		var o Observation
		wedged := 0.0
		for s := 50.0; s <= 300; s += 15 { // a healthy new process: a cycle every 5s
			st := status(t, skew, sec(s), true, d(s-1), d(s-0.9))
			st.Health.ComputedAt = nil
			o = tr.Answer(st, ours.Add(sec(s)))
			if o.Assessment.Stale && wedged == 0 {
				wedged = s
				t.Logf("skew %s: false WEDGED at %vs, restart=%v: %s", skew, s, o.Assessment.Restart, o.Assessment.Reason)
			}
		}
		assert.Zero(t, wedged, "skew %s: a healthy daemon that cycles every 5s, judged by timestamp movement, is never stale", skew)
	}
}
