package dispatch

import (
	"fmt"
	"time"
)

// Verdict is what Judge concludes from one Health observation.
type Verdict struct {
	// Judged is false when the observation held no progress to judge
	// (Health.Observed false); then Stale and Stuck are false.
	Judged bool
	// Stale is true when the loop is judged wedged.
	Stale bool
	// Stuck is true when ready tasks wait and no worker can take them.
	Stuck bool
	// Running repeats Health.Running: a stopped loop is never stale.
	Running bool
	// Threshold is the staleness threshold in force.
	Threshold time.Duration
	// Since is the latest sign of progress the staleness clock counts from:
	// the start of the cycle in flight, the last completion, or the start of
	// the current run, whichever is latest. Zero when there is none.
	Since time.Time
	// Age is how long ago Since was, on the daemon's clock.
	Age time.Duration
	// SinceCompleted is how long no cycle has completed in the current run:
	// since the last completion, or since the run began when none has.
	// Zero when unknown.
	SinceCompleted time.Duration
	// Phase is what the cycle in flight reported last, where it hangs when
	// the loop is wedged; empty when unknown.
	Phase string
	// Reason says why, in words for logs and pages.
	Reason string
}

// StaleSince is when the loop turned stale (Since + Threshold); zero when it
// is not stale.
func (v Verdict) StaleSince() time.Time {
	if !v.Stale {
		return time.Time{}
	}
	return v.Since.Add(v.Threshold)
}

// Judge applies the staleness rule to one observation. It is a pure
// function: the same Health always gives the same Verdict.
//
// The rule is smithy's (see shared/smithy/STATUS.md) with two corrections:
//   - a stopped loop is never stale (smithy false-alarms once a stopped
//     loop's last completion is older than the threshold);
//   - a running loop that has not started any cycle within the threshold of
//     being started is stale (smithy never alarms then).
//
// Otherwise: with a cycle in flight, stale when it started more than the
// threshold ago; else stale when the last completion is older than the
// threshold. The clock never counts from before RunningSince, so a
// restarted loop gets a full threshold of grace.
func Judge(h Health) Verdict {
	v := Verdict{Running: h.Running, Threshold: h.StaleThreshold(), Judged: h.Observed}
	if !h.Observed {
		v.Reason = "the daemon reported no health"
		return v
	}
	v.Stuck = h.Stuck()
	v.SinceCompleted = sinceCompleted(h)
	if !h.Running {
		v.Reason = "the loop is stopped"
		return v
	}

	switch {
	case h.InFlight():
		v.Phase = h.Phase
		v.Since = h.LastStarted
		v.Reason = "cycle in flight since " + stamp(h.LastStarted) + phaseNote(h.Phase)
	case !h.LastCompleted.IsZero():
		v.Since = h.LastCompleted
		v.Reason = "last cycle completed at " + stamp(h.LastCompleted)
	}
	if h.RunningSince.After(v.Since) {
		v.Since = h.RunningSince
		v.Reason = "loop started at " + stamp(h.RunningSince) + "; no cycle completed since" + phaseNote(h.Phase)
	}
	if v.Since.IsZero() {
		// Smithy's rule: no timestamps and no known start, nothing to judge.
		v.Reason = "no cycle has run yet"
		return v
	}

	v.Age = h.Now.Sub(v.Since)
	v.Stale = v.Age > v.Threshold
	if v.Stale {
		v.Reason = fmt.Sprintf("%s, %s ago (threshold %s)", v.Reason, roundAge(v.Age), v.Threshold)
	}
	return v
}

// sinceCompleted measures how long no cycle has completed in the current run.
func sinceCompleted(h Health) time.Duration {
	ref := h.LastCompleted
	if h.RunningSince.After(ref) {
		ref = h.RunningSince
	}
	if ref.IsZero() {
		return 0
	}
	return max(0, h.Now.Sub(ref))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func phaseNote(phase string) string {
	if phase == "" {
		return ""
	}
	return " (in phase " + phase + ")"
}

// roundAge rounds a duration to whole seconds for people to read.
func roundAge(d time.Duration) time.Duration { return d.Truncate(time.Second) }
