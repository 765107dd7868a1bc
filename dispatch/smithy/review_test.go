package smithy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// After a restart was asked and its window passed, a new process answering
// 401/500/503 for minutes, then one timeout: a hang of seconds, not of
// minutes; no wedge, no 503.
func TestTrackerOneTimeoutAfterUnusableAnswersIsNoWedge(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0, 60*time.Second) // threshold 60s (interval 5s)
	// A real wedge: a cycle in flight for 70s, answered usable.
	o := tr.Answer(status(t, 0, 0, true, d(-70), d(-75)), ours)
	if !o.Assessment.Restart {
		t.Fatal("setup: expected the wedge")
	}
	tr.RestartAnswered(ours) // liveness 503; the kubelet restarts the process (no refusal seen)
	// The new process answers 401 (a rotated token, say) for 5 minutes.
	for s := 15.0; s <= 300; s += 15 {
		o = tr.Fail(dispatch.EvidenceUnusable, "http_status: 401", ours.Add(sec(s)), ours.Add(sec(s)))
		assert.Equal(t, dispatch.StateDown, o.Assessment.State, "%vs", s)
	}
	// One request of the new process times out (a GC pause, a slow disk).
	o = hang(tr, 305)
	t.Logf("HungFor-based decision after ONE 5s timeout: state=%s stale=%v restart=%v: %s",
		o.Assessment.State, o.Assessment.Stale, o.Assessment.Restart, o.Assessment.Reason)
	assert.False(t, o.Assessment.Stale, "one 5s timeout of a process that answered 401 for minutes is no wedge")
	assert.False(t, o.Assessment.Restart, "and no reason to restart it")
}

// Once liveness asked for a restart, a hang is not judged from the old
// process's cycle in flight: what hangs may be the new process starting.
func TestTrackerStartUpHangAfterARestartIsNotJudgedOnTheOldCycle(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0, 30*time.Second)
	o := tr.Answer(status(t, 0, 0, true, d(-70), d(-75)), ours) // wedged: cycle in flight 70s
	if !o.Assessment.Restart {
		t.Fatal("setup")
	}
	tr.RestartAnswered(ours)
	for s := 10.0; s <= 30; s += 5 {
		hang(tr, s) // within the window: the old process, or its restart in progress
	}
	// The kubelet killed it; the new process hangs in its start-up.
	for s := 35.0; s <= 80; s += 5 {
		o = hang(tr, s)
		assert.False(t, o.Assessment.Restart, "%vs", s)
		assert.False(t, o.Assessment.Stale, "%vs: what hangs may be the new process: no evidence about it yet (%s)", s, o.Assessment.Reason)
	}
}

// A new process that does not report computedAt, on a clock unlike the old
// one's (a rollback on another node): the old offset is forgotten, and it
// is judged by when its timestamps are first seen: no false wedge.
func TestTrackerNewProcessWithoutComputedAtOnAnotherClock(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{2 * time.Minute, -2 * time.Minute, 20 * time.Second} {
		tr := NewTracker(0, 0)
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

// A kubelet slower than the restart window (6 × 15s against the default
// 60s) never gets its count of failures: that mismatch cannot be fixed from
// here, so the tracker says when a window ends with the daemon still
// hanging (the target logs it, naming the flag).
func TestTrackerKubeletSlowerThanTheWindowIsSaid(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0, 0) // default window 60s
	tr.Answer(status(t, 0, 0, true, d(-1), d(-0.9)), ours)
	ended := 0
	for s := 15.0; s <= 600; s += 15 {
		o := hang(tr, s)
		if o.Assessment.Restart {
			tr.RestartAnswered(ours.Add(sec(s)))
		}
		if o.RestartWindowEnded {
			ended++
		}
	}
	assert.NotZero(t, ended, "the window's end is reported")
}
