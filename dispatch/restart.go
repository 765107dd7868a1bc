package dispatch

import (
	"fmt"
	"time"
)

// RestartPolicy decides the liveness answer (whether to ask for a restart
// of the daemon's process) from the Tracker's observations. It reads the
// decision and never feeds back into it: the page comes from evidence, the
// restart from this bounded policy.
//
// A restart request is a run of "restart" answers to FailureThreshold
// liveness probes in a row: the kubelet restarts a container after its
// livenessProbe's failureThreshold failures in a row, so a request whose
// count matches it restarts the process at most once, however slowly the
// probes come. Evidence ends a request sooner: a new process (a refusal, a
// cut connection, timestamps that moved back), or a usable answer that no
// longer says restart; so does a pause in the probes longer than
// maxProbeGap (the container was being restarted).
//
// After a request the process that serves may be the new one, whatever it
// answers. It gets a grace of threshold × 2^n after the n-th request,
// counted from when it could first have started: the request's last
// answer plus the killed process's TerminationGrace, or a later refusal.
// A further hang must itself have lasted that long, and only fresh
// evidence about the process that serves asks again (a decision carried
// over answers that say nothing new may be about the process being
// replaced). After Budget requests that brought no completed cycle back,
// it stops asking (Spent) until a usable answer shows a completed cycle,
// which ends the episode and restores the budget.
//
// So, for any history: requests per episode ≤ Budget, restart answers per
// request ≤ FailureThreshold, and no request rests on less than a threshold
// of evidence about the process that could be serving. RestartPolicy is a
// value: Next returns the next one, so a caller can preview an answer
// (shadow mode) without committing it.
type RestartPolicy struct {
	// FailureThreshold is how many restart answers one request makes: the
	// livenessProbe's failureThreshold. Default DefaultFailureThreshold.
	FailureThreshold int
	// Budget is how many requests an episode may make. Default
	// DefaultRestartBudget.
	Budget int
	// TerminationGrace is how long a process the kubelet kills may go on
	// serving (the pod's terminationGracePeriodSeconds): the next process
	// starts no earlier, and its grace counts from then. Default
	// DefaultTerminationGrace.
	TerminationGrace time.Duration

	requests    int       // requests made in this episode
	answered    int       // restart answers of the request under way; 0: none is under way
	lastAnswer  time.Time // our clock: the latest restart answer
	graceFrom   time.Time // our clock: the earliest start of the process that serves, after a request
	spent       bool
	completions uint64 // Observation.Completions when last read
}

// DefaultFailureThreshold is the default RestartPolicy.FailureThreshold:
// the failureThreshold of the documented livenessProbe.
const DefaultFailureThreshold = 4

// DefaultRestartBudget is the default RestartPolicy.Budget.
const DefaultRestartBudget = 3

// DefaultTerminationGrace is the default RestartPolicy.TerminationGrace:
// Kubernetes' default terminationGracePeriodSeconds.
const DefaultTerminationGrace = 30 * time.Second

// maxGraceDoublings caps the back-off: the grace stops growing at
// threshold × 2^10.
const maxGraceDoublings = 10

// maxProbeGap is the longest pause between two liveness probes within one
// request: the longest periodSeconds plus timeoutSeconds a kubelet is
// given. A longer pause is a container being restarted (probes stop while
// it terminates and starts): the request is over.
const maxProbeGap = 2 * time.Minute

// Liveness is one answer of the restart policy.
type Liveness struct {
	// Restart: answer 503, restarting the daemon's process is asked for.
	Restart bool
	// Began is true when this answer began a request (count it once).
	Began bool
	// Reason says why, in words for the probe's body and the logs.
	Reason string
	// Requests counts the requests made in the current episode.
	Requests int
	// Spent is true while the budget is spent: restarts did not bring a
	// completed cycle back, and a person must look.
	Spent bool
	// GaveUp is true on the answer that spent the budget (log it once).
	GaveUp bool
}

// Spent reports whether the budget is spent.
func (p RestartPolicy) Spent() bool { return p.spent }

// Requests counts the requests made in the current episode.
func (p RestartPolicy) Requests() int { return p.requests }

// Next answers liveness at our time at on the observation o (the latest
// decision about the daemon), and returns the policy to keep.
func (p RestartPolicy) Next(o Observation, at time.Time) (RestartPolicy, Liveness) {
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = DefaultFailureThreshold
	}
	if p.Budget <= 0 {
		p.Budget = DefaultRestartBudget
	}
	if p.TerminationGrace <= 0 {
		p.TerminationGrace = DefaultTerminationGrace
	}
	a := o.Assessment
	if o.Progress || o.Completions != p.completions {
		// A cycle completed (seen by this request or any other since):
		// whatever was asked worked, or was not needed.
		p = RestartPolicy{FailureThreshold: p.FailureThreshold, Budget: p.Budget, TerminationGrace: p.TerminationGrace,
			completions: o.Completions}
	}
	switch {
	case p.requests > 0 && o.GoneAt.After(p.graceFrom) && (p.answered == 0 || o.GoneAt.After(p.lastAnswer)):
		// Nothing listened, or a connection the daemon held was cut (seen
		// by this request or another): a new process could first start
		// then.
		p.answered, p.graceFrom = 0, o.GoneAt
	case p.answered > 0 && o.NewProcessAt.After(p.lastAnswer):
		// A new process answered (this request or another saw it): the
		// request is over; it started after the request's last answer.
		p.answered, p.graceFrom = 0, p.lastAnswer
	}
	restart, evidenceAt := a.Restart, at
	if !restart && a.Stale && !o.RestartSaidAt.IsZero() && at.Sub(o.RestartSaidAt) <= recentEvidence(o) &&
		(p.requests == 0 || p.answered > 0 && o.RestartSaidAt.After(p.lastAnswer)) {
		// This look says nothing new (an answer without the loop's state,
		// a caller that stopped waiting) and the wedge is carried. A recent
		// decision said restart, and it is about the process that serves:
		// no restart was asked yet in this episode, or, during a request,
		// it came after the request's latest answer. After a request the
		// process that serves may be a new one answering just that way (a
		// 503 "starting", a probe it is too busy to answer): only fresh
		// evidence about it counts.
		restart, evidenceAt = true, o.RestartSaidAt
		a.Reason += "; a restart was said " + roundAge(at.Sub(o.RestartSaidAt)).String() + " ago"
	}
	if p.answered > 0 {
		// A request goes on until the kubelet has had its count, unless
		// evidence ends it: a usable answer that no longer says restart (or
		// a new process, above). Unusable answers and hangs say nothing of
		// that, and breaking the run on them would keep the kubelet from
		// ever reaching its count; and since a request makes no more
		// answers than the kubelet counts, it cannot go on into the process
		// that replaces the one it restarted.
		switch {
		case p.answered >= p.FailureThreshold, at.Sub(p.lastAnswer) > maxProbeGap:
			// Done: the kubelet has had its count. The process it kills may
			// go on serving (hanging) for its termination grace; the new
			// one could first start after that.
			p.answered, p.graceFrom = 0, p.lastAnswer.Add(p.TerminationGrace)
		case a.Evidence != EvidenceUsable || restart:
			p.answered++
			p.lastAnswer = at
			return p, p.answer(true, fmt.Sprintf("restart request %d of %d, answer %d of %d: %s",
				p.requests, p.Budget, p.answered, p.FailureThreshold, a.Reason))
		default:
			p.answered, p.graceFrom = 0, at
		}
	}
	switch {
	case !restart:
		return p, p.answer(false, "")
	case p.spent:
		return p, p.answer(false, fmt.Sprintf("restart budget spent: %d restart request(s) brought no completed cycle back; a person must look (%s)",
			p.requests, a.Reason))
	case p.requests > 0:
		grace := thresholdOf(o) << min(p.requests, maxGraceDoublings)
		from := p.graceFrom
		if a.Evidence == EvidenceHung && o.HungSince.After(from) {
			from = o.HungSince
		}
		// The evidence must itself come after the grace: a decision taken
		// earlier (a hang while the process restarted was terminating) is
		// about what was there before.
		if wait := grace - evidenceAt.Sub(from); wait > 0 {
			return p, p.answer(false, fmt.Sprintf("%d restart request(s) made; the process serving now gets %s of grace from %s (%s left): %s",
				p.requests, grace, stamp(p.graceFrom), roundAge(wait), a.Reason))
		}
		if p.requests >= p.Budget {
			p.spent = true
			l := p.answer(false, fmt.Sprintf("restart budget spent: %d restart request(s) brought no completed cycle back; no more are asked until one completes (%s)",
				p.requests, a.Reason))
			l.GaveUp = true
			return p, l
		}
	}
	p.requests++
	p.answered, p.lastAnswer = 1, at
	l := p.answer(true, fmt.Sprintf("restart request %d of %d, answer 1 of %d: %s", p.requests, p.Budget, p.FailureThreshold, a.Reason))
	l.Began = true
	return p, l
}

// recentEvidence is how old a decision that said restart may be for a look
// that says nothing new to act on it: a threshold and a minute, so that
// answers that flip between usable and not for a few probes do not hide a
// wedge from liveness.
func recentEvidence(o Observation) time.Duration {
	return thresholdOf(o) + time.Minute
}

// thresholdOf is the staleness threshold o's decision was judged by: its
// verdict's, else that of the health it rests on.
func thresholdOf(o Observation) time.Duration {
	if thr := o.Assessment.Verdict.Threshold; thr > 0 || o.Health == nil {
		return thr
	}
	return o.Health.StaleThreshold()
}

func (p RestartPolicy) answer(restart bool, reason string) Liveness {
	return Liveness{Restart: restart, Reason: reason, Requests: p.requests, Spent: p.spent}
}
