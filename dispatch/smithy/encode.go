package smithy

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// FromHealth is the status a smithy daemon would serve for an in-process
// loop: the same shape, so a sidecar can read an embedded loop (or the demo)
// exactly as it reads smithy. The daemon's own verdict goes in pollStale.
func FromHealth(h dispatch.Health, v dispatch.Verdict) Status {
	yes := true
	interval := float64(h.Interval / time.Millisecond)
	threshold := float64(v.Threshold / time.Millisecond)
	st := Status{
		IsRunning:     &h.Running,
		Available:     &yes,
		ServerManaged: &yes,
		Config: &Config{
			PollIntervalMs:                 &interval,
			PollStaleThresholdMs:           &threshold,
			WorkerAvailabilityPollEnabled:  &yes,
			InboxPollEnabled:               &yes,
			StewardTriggerPollEnabled:      &yes,
			WorkflowTaskPollEnabled:        &yes,
			DirectorInboxForwardingEnabled: &yes,
		},
		RateLimit: &RateLimit{Limits: []Limit{}},
	}
	if !h.Observed {
		return st
	}
	stuck, stale := v.Stuck, v.Stale
	st.Health = &HealthReport{
		Stuck:               &stuck,
		HasStuckQueue:       &stuck,
		ComputedAt:          stampOf(h.Now),
		LastPollStartedAt:   stampOf(h.LastStarted),
		LastPollCompletedAt: stampOf(h.LastCompleted),
		PollStale:           &stale,
	}
	if h.QueueKnown {
		st.Health.ReadyUnassignedTasks = &h.ReadyUnassignedTasks
		st.Health.AvailableWorkers = &h.AvailableWorkers
	}
	return st
}

func stampOf(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	ts := Timestamp(t)
	return &ts
}
