package smithy

import "github.com/stoneforge/dispatch_exporter/dispatch"

// Report converts a decoded status into the evidence model's terms, for
// dispatch.Tracker.
func (st *Status) Report() dispatch.Report {
	r := dispatch.Report{
		Available: *st.Available,
		Reason:    st.Reason,
		Running:   *st.IsRunning,
		Interval:  st.Interval(),
		Threshold: st.Threshold(),
	}
	h := st.Health
	if h == nil {
		return r
	}
	r.HealthKnown = true
	if h.ComputedAt != nil {
		r.ComputedAt = h.ComputedAt.Time()
	}
	if h.LastPollStartedAt != nil {
		r.LastStarted = h.LastPollStartedAt.Time()
	}
	if h.LastPollCompletedAt != nil {
		r.LastCompleted = h.LastPollCompletedAt.Time()
	}
	if h.ReadyUnassignedTasks != nil && h.AvailableWorkers != nil {
		r.QueueKnown, r.Ready, r.Workers = true, *h.ReadyUnassignedTasks, *h.AvailableWorkers
	}
	return r
}
