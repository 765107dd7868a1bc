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
// A restart request is a run of "restart" answers (the kubelet restarts a
// container after failureThreshold failed probes in a row), for at most
// Window, ended sooner by evidence of a new process (a refusal, timestamps
// that moved back) or by a decision that no longer asks. After a request,
// the process that serves may be the new one, whatever it answers: it gets
// a grace of threshold × 2^n after the n-th request, counted from when it
// could first have started (the end of the request, or a later refusal or
// restart seen), before another request; and a further hang must itself
// have lasted that long since. After Budget requests that brought no
// completed cycle back, it stops asking (Spent) until a usable answer shows
// a completed cycle, which ends the episode and restores the budget.
//
// So, for any history: requests per episode ≤ Budget, and no request
// rests on less than a threshold of evidence about the process that could
// be serving. RestartPolicy is a value: Next returns the next one, so a
// caller can preview an answer (shadow mode) without committing it.
type RestartPolicy struct {
	// Window is how long one request goes on answering "restart": the
	// livenessProbe's failureThreshold × periodSeconds. Default
	// DefaultRestartWindow.
	Window time.Duration
	// Budget is how many requests an episode may make. Default
	// DefaultRestartBudget.
	Budget int

	requests  int       // requests made in this episode
	asking    time.Time // our clock: when the request under way began; zero when none is
	graceFrom time.Time // our clock: the earliest start of the process that serves, after a request
	spent     bool
}

// DefaultRestartWindow is the default RestartPolicy.Window: failureThreshold
// × periodSeconds (4 × 15s) of the documented livenessProbe.
const DefaultRestartWindow = 60 * time.Second

// DefaultRestartBudget is the default RestartPolicy.Budget.
const DefaultRestartBudget = 3

// maxGraceDoublings caps the back-off: the grace stops growing at
// threshold × 2^10.
const maxGraceDoublings = 10

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
	if p.Window <= 0 {
		p.Window = DefaultRestartWindow
	}
	if p.Budget <= 0 {
		p.Budget = DefaultRestartBudget
	}
	a := o.Assessment
	if o.Progress {
		// A cycle completed: whatever was asked worked, or was not needed.
		p = RestartPolicy{Window: p.Window, Budget: p.Budget}
	}
	if p.requests > 0 && (a.Evidence == EvidenceRefused || o.Restarted) {
		// A new process is on its way: it could first have started now.
		p.asking, p.graceFrom = time.Time{}, at
	}
	if !p.asking.IsZero() {
		if a.Restart && at.Sub(p.asking) < p.Window {
			return p, p.answer(true, fmt.Sprintf("restart request %d of %d under way since %s: %s",
				p.requests, p.Budget, stamp(p.asking), a.Reason))
		}
		p.asking, p.graceFrom = time.Time{}, at
	}
	switch {
	case !a.Restart:
		return p, p.answer(false, "")
	case p.spent:
		return p, p.answer(false, fmt.Sprintf("restart budget spent: %d restart request(s) brought no completed cycle back; a person must look (%s)",
			p.requests, a.Reason))
	case p.requests > 0:
		grace := a.Verdict.Threshold << min(p.requests, maxGraceDoublings)
		from := p.graceFrom
		if a.Evidence == EvidenceHung && o.HungSince.After(from) {
			from = o.HungSince
		}
		if wait := grace - at.Sub(from); wait > 0 {
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
	p.asking = at
	l := p.answer(true, fmt.Sprintf("restart request %d of %d: %s", p.requests, p.Budget, a.Reason))
	l.Began = true
	return p, l
}

func (p RestartPolicy) answer(restart bool, reason string) Liveness {
	return Liveness{Restart: restart, Reason: reason, Requests: p.requests, Spent: p.spent}
}
