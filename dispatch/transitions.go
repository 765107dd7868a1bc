package dispatch

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Transitions logs a loop's changes of state, once per change and never per
// tick: STUCK (warn) and RESUMED (info) for the queue, WEDGED (error) and
// RECOVERED (info) for the loop, or "no longer judged wedged" (warn) when
// the wedge ends without evidence that the loop recovered (its process is
// gone, or it answers unusably). Feed it every Assessment; it is safe for
// concurrent use.
type Transitions struct {
	logger   log.Logger
	onWedged func(Health, Verdict)

	mu         sync.Mutex
	stuck      bool
	stuckSince time.Time
	stale      bool
}

// NewTransitions logs to logger (which should carry the loop's name). When
// onWedged is not nil it runs once per WEDGED transition, after the log line.
func NewTransitions(logger log.Logger, onWedged func(Health, Verdict)) *Transitions {
	return &Transitions{logger: logger, onWedged: onWedged}
}

// Observe compares one assessment with the previous one and logs what
// changed. h is the loop the assessment judged; nil when none. The queue
// changes only on a usable answer that reports it: not knowing is not
// resuming.
func (t *Transitions) Observe(h *Health, a Assessment) {
	v := a.Verdict
	t.mu.Lock()
	var stuckMsg logLine
	if h != nil {
		stuckMsg = t.queue(*h, v) // only a health whose queue is known moves it
	}
	wedged, staleMsg := t.loop(a)
	t.mu.Unlock()

	for _, m := range []logLine{stuckMsg, staleMsg} {
		if m.logger != nil {
			_ = m.logger.Log(m.kv...)
		}
	}
	if wedged && t.onWedged != nil && h != nil {
		t.onWedged(*h, v)
	}
}

// StuckSince is when the queue was last seen turning stuck, on the judging
// clock of the health it was seen in; zero while it is not stuck.
func (t *Transitions) StuckSince() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stuck {
		return time.Time{}
	}
	return t.stuckSince
}

type logLine struct {
	logger log.Logger
	kv     []any
}

func (t *Transitions) queue(h Health, v Verdict) logLine {
	if !h.Observed || !h.QueueKnown || v.Stuck == t.stuck {
		return logLine{}
	}
	t.stuck = v.Stuck
	if v.Stuck {
		t.stuckSince = h.Now
		return logLine{level.Warn(t.logger), []any{"msg", fmt.Sprintf(
			"STUCK: %d task(s) ready, no available workers; register or enable a worker", h.ReadyUnassignedTasks)}}
	}
	return logLine{level.Info(t.logger), []any{"msg", fmt.Sprintf(
		"RESUMED: queue no longer stuck after %s: %d task(s) ready, %d available worker(s)",
		roundAge(h.Now.Sub(t.stuckSince)), h.ReadyUnassignedTasks, h.AvailableWorkers)}}
}

func (t *Transitions) loop(a Assessment) (bool, logLine) {
	if a.Stale == t.stale {
		return false, logLine{}
	}
	t.stale = a.Stale
	switch {
	case a.Stale:
		return true, logLine{level.Error(t.logger), []any{
			"msg", "WEDGED: " + wedgedSummary(a.Verdict), "reason", a.Reason,
			"fix", "restart the daemon's process; stopping and starting the loop does not clear a wedge"}}
	case a.Evidence == EvidenceUsable:
		return false, logLine{level.Info(t.logger), []any{"msg", "RECOVERED: loop no longer stale", "reason", a.Reason}}
	}
	return false, logLine{level.Warn(t.logger), []any{"msg", "no longer judged wedged, without evidence of recovery: " + a.Evidence.String(), "reason", a.Reason}}
}

// wedgedSummary is the banner's sentence: "no cycle completed for D; in phase P".
func wedgedSummary(v Verdict) string {
	s := "no cycle completed for " + roundAge(v.SinceCompleted).String()
	if v.SinceCompleted == 0 {
		s = "no cycle completed"
	}
	if v.Phase != "" {
		s += "; in phase " + v.Phase
	}
	return s
}
