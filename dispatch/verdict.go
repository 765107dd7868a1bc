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
// function: the same Health always gives the same Verdict. It judges the
// loop's timestamps only; what a source could or could not read is Decide's
// concern.
//
// The rule is smithy's (see dispatch/smithy/testdata/STATUS.md) with three
// corrections:
//   - a cycle in flight is judged from its start whatever the loop's state:
//     a wedged cycle holds smithy's polling guard through a stop and a start,
//     so neither clears it, and a run started meanwhile gets no grace;
//   - a stopped loop with no cycle in flight is never stale (smithy
//     false-alarms once a stopped loop's last completion is older than the
//     threshold);
//   - a running loop that has not started any cycle within the threshold of
//     being started is stale (smithy never alarms then).
//
// Otherwise, for a running loop: stale when the last completion is older
// than the threshold, counting from no earlier than RunningSince, so a fresh
// run gets a full threshold of grace.
func Judge(h Health) Verdict {
	v := Verdict{Running: h.Running, Threshold: h.StaleThreshold(), Judged: h.Observed}
	if !h.Observed {
		v.Reason = "the daemon reported no health"
		return v
	}
	v.Stuck = h.Stuck()
	v.SinceCompleted = sinceCompleted(h)

	switch {
	case h.InFlight():
		v.Phase = h.Phase
		v.Since = h.LastStarted
		v.Reason = "cycle in flight since " + stamp(h.LastStarted) + phaseNote(h.Phase)
		if !h.Running {
			v.Reason = "loop stopped; " + v.Reason
		}
	case !h.Running:
		v.Reason = "the loop is stopped"
		return v
	default:
		if !h.LastCompleted.IsZero() {
			v.Since = h.LastCompleted
			v.Reason = "last cycle completed at " + stamp(h.LastCompleted)
		}
		if h.RunningSince.After(v.Since) {
			v.Since = h.RunningSince
			v.Reason = "loop started at " + stamp(h.RunningSince) + "; no cycle completed since"
		}
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

// sinceCompleted measures how long no cycle has completed: since the last
// completion or, when none is known, since the run began. With a cycle in
// flight since before the current run (a wedge carried through a stop and a
// start), the run's start does not count: nothing completed across it.
func sinceCompleted(h Health) time.Duration {
	ref := h.LastCompleted
	switch {
	case h.InFlight() && h.LastStarted.Before(h.RunningSince):
		if ref.IsZero() {
			ref = h.LastStarted
		}
	case h.RunningSince.After(ref):
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
