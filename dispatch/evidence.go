package dispatch

import (
	"fmt"
	"time"
)

// Evidence classifies what one look at a loop's status produced. Only some
// kinds say anything about the loop itself; see Decide.
type Evidence int

// The kinds of evidence.
const (
	// EvidenceNone: nothing known yet (never looked, or nothing answered
	// since the exporter started).
	EvidenceNone Evidence = iota
	// EvidenceUsable: an answer in the contract (2xx, decoded, with health;
	// or "no daemon at all"), or an in-process loop read directly.
	EvidenceUsable
	// EvidenceUnusable: no usable status, and no sign of a hang: the
	// process answered, but not with a usable status (another HTTP status:
	// 401, 500, 503 "starting"; a body that does not decode, one too large,
	// HTML, health missing, loop fields no daemon can mean (see
	// Observation.Implausible); a TLS failure, a reset), or no connection was
	// made at all (unreachable, a dial timeout, a DNS failure). It says
	// nothing of the loop.
	EvidenceUnusable
	// EvidenceRefused: nothing listens (connection refused, no such host):
	// the daemon is starting or gone. Whatever was known of its loop is
	// about a process that no longer serves.
	EvidenceRefused
	// EvidenceHung: a connection was accepted (or is pending) and no answer
	// came within the target's timeout: the daemon's HTTP server hangs.
	EvidenceHung
)

// String is the evidence in a word, as logs and pages show it.
func (e Evidence) String() string {
	switch e {
	case EvidenceUsable:
		return "usable"
	case EvidenceUnusable:
		return "unusable"
	case EvidenceRefused:
		return "refused"
	case EvidenceHung:
		return "hung"
	}
	return "none"
}

// Look is the input of Decide: the evidence of the latest look at a loop and
// what is known of the loop from the last usable answer.
type Look struct {
	// Evidence is what the latest look produced.
	Evidence Evidence
	// Health is the loop as the last usable answer showed it, with Now
	// advanced on a monotonic clock to the moment of this look when that
	// answer is older. Nil when no usable answer is known about the process
	// that serves now (none yet, or nothing listened since).
	Health *Health
	// HungFor is how long the daemon has accepted requests without
	// answering: from the start of the first unanswered request since its
	// last answer or refusal to this look. Evidence EvidenceHung only.
	HungFor time.Duration
	// WasStale is true when the decision before this one was stale and the
	// wedge is carried on: hangs and unusable answers do not end it (no
	// evidence that the loop recovered); a refusal or a usable answer
	// does. Nothing but the daemon's answers sets it.
	WasStale bool
	// NoDaemon is true on a usable answer that says the server has no
	// dispatch daemon at all (smithy's available: false): nothing runs.
	NoDaemon bool
	// Detail says what failed, in words (unusable, refused, hung).
	Detail string
}

// Assessment is the one decision every output reads: the metrics, the logs,
// the landing page, the probe and liveness endpoints.
type Assessment struct {
	// Evidence is the kind of evidence it rests on.
	Evidence Evidence
	// Verdict is Judge's reading of the loop's timestamps (extrapolated
	// while the daemon hangs); zero when none was judged.
	Verdict Verdict
	// Up is dispatch_up: the latest look read a usable status.
	Up bool
	// Stale is dispatch_poll_stale: the evidence shows a hung loop.
	Stale bool
	// Restart says restarting the daemon's process is the fix, on evidence
	// about the process that serves now. It is the restart policy's input
	// (RestartPolicy), not the liveness answer: the policy adds grace,
	// back-off and a budget.
	Restart bool
	// State is the verdict in one word.
	State State
	// Reason says why, in words for logs and pages.
	Reason string
}

// Decide is the decision table of the evidence model: from one Look to the
// Assessment every output shows. It is a pure function.
//
//	evidence  what is known of the loop           stale           up  state                     restart
//	none      -                                   0               0   UNKNOWN                   no
//	usable    no daemon at all (NoDaemon)         0               1   STOPPED                   no
//	usable    judged from its timestamps          Judge's verdict 1   WEDGED/STUCK/STOPPED/HEALTHY iff stale
//	unusable  nothing, or no wedge judged before  0               0   DOWN                      no
//	unusable  a wedge judged before (WasStale)    1 (carried on)  0   WEDGED                    no
//	refused   anything (forgotten: process gone)  0               0   DOWN                      no
//	hung      nothing usable since the process    0               0   DOWN                      no
//	          started (no Health)
//	hung      last usable answer, extrapolated    extrapolation   0   WEDGED if stale, else DOWN iff stale and
//	                                              stale, and: the         hung longer than the
//	                                              wedge was already       threshold
//	                                              judged (WasStale:
//	                                              carried for as long
//	                                              as the hang lasts),
//	                                              or that answer
//	                                              showed a cycle in
//	                                              flight,
//	                                              or the daemon hung
//	                                              longer than the
//	                                              threshold
//
// So a wedge turns on only with evidence of a hung loop: a usable answer
// whose timestamps show it; a cycle seen in flight that, extrapolated on our
// monotonic clock while the daemon hangs, outlasts the threshold; or a hang
// long enough that a process which replaced the last one unseen (no refusal
// observed) would have answered by now. Unusable answers and refusals never
// turn it on; and it ends only on evidence: a usable answer, a refusal (the
// process is gone), a new process. Restart never rests on a hang shorter
// than the threshold, which could be a process in its start-up.
func Decide(l Look) Assessment {
	a := Assessment{Evidence: l.Evidence}
	switch l.Evidence {
	case EvidenceNone:
		a.State, a.Reason = StateUnknown, "not read yet"
		return a
	case EvidenceUsable:
		if l.NoDaemon {
			a.Up, a.State, a.Reason = true, StateStopped, l.Detail
			return a
		}
		return usable(l, a)
	case EvidenceUnusable:
		a.State, a.Reason = StateDown, "no usable status: "+l.Detail
		if l.WasStale && l.Health != nil {
			// An answer that says nothing of the loop does not end a wedge.
			if v := Judge(*l.Health); v.Stale {
				a.Verdict, a.Stale, a.State = v, true, StateWedged
				a.Reason += "; no answer since shows the wedge ended; last known: " + v.Reason
			}
		}
		return a
	case EvidenceRefused:
		a.State, a.Reason = StateDown, "nothing listens (the daemon is starting or gone): "+l.Detail
		return a
	}
	return hung(l, a)
}

func usable(l Look, a Assessment) Assessment {
	a.Up = true
	if l.Health == nil {
		a.State, a.Reason = StateUnknown, "the daemon reported no health"
		return a
	}
	v := Judge(*l.Health)
	a.Verdict, a.Stale, a.Restart, a.Reason = v, v.Stale, v.Stale, v.Reason
	switch {
	case v.Stale:
		a.State = StateWedged
	case v.Stuck:
		a.State = StateStuck
		a.Reason = fmt.Sprintf("%d ready task(s), no available worker; %s",
			l.Health.ReadyUnassignedTasks, v.Reason)
	case !v.Judged && !l.Health.Running:
		a.State = StateStopped
	case !v.Judged:
		a.State = StateUnknown
	case !v.Running:
		a.State = StateStopped
	default:
		a.State = StateHealthy
	}
	return a
}

func hung(l Look, a Assessment) Assessment {
	note := fmt.Sprintf("no answer for %s (%s)", roundAge(l.HungFor), l.Detail)
	a.State, a.Reason = StateDown, note+"; nothing known of the loop since the process started"
	if l.Health == nil {
		return a
	}
	v := Judge(*l.Health)
	a.Verdict = v
	long := l.HungFor > v.Threshold
	a.Stale = v.Stale && (l.WasStale || long || l.Health.InFlight())
	a.Restart = a.Stale && long
	switch {
	case a.Stale:
		a.State, a.Reason = StateWedged, note+"; last known: "+v.Reason
	case v.Stale:
		a.Reason = note + "; a hang shorter than the threshold may be a new process starting; last known: " + v.Reason
	default:
		a.Reason = note + "; last known: " + v.Reason
	}
	return a
}
