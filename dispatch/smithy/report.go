package smithy

import (
	"fmt"
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Report converts a decoded status into the evidence model's terms, for
// dispatch.Tracker. Fields outside what a daemon can mean are not passed on
// as facts, each named in Report.Oddities: a poll interval under
// dispatch.MinPollInterval is dropped (the default rule applies), one over
// MaxPollInterval clamped to it (a longer interval never gives a shorter
// threshold), the
// daemon's threshold is clamped by dispatch.ClampStaleThreshold, and queue
// counts over dispatch.MaxCount leave the queue unknown. The loop's
// timestamps are checked against our clock by the Tracker.
func (st *Status) Report() dispatch.Report {
	r := dispatch.Report{
		Available: *st.Available,
		Reason:    st.Reason,
		Running:   *st.IsRunning,
		Interval:  st.Interval(),
	}
	switch {
	case st.Config != nil && st.Config.PollIntervalMs != nil && r.Interval < dispatch.MinPollInterval:
		// (under a nanosecond it converts to zero, which reads as absent)
		r.Oddities = append(r.Oddities, dispatch.Oddity{Field: "config.pollIntervalMs", Note: fmt.Sprintf(
			"%v ms is outside the %s..%s any dispatch loop polls at: ignored, the default threshold rule applies",
			*st.Config.PollIntervalMs, dispatch.MinPollInterval, dispatch.MaxPollInterval)})
		r.Interval = 0
	case r.Interval > dispatch.MaxPollInterval:
		// Clamped, not dropped: dropping made the threshold 60s, so a
		// longer interval gave a shorter threshold than an hour's, and a
		// loop that cycles at it would be wedged between two cycles.
		r.Oddities = append(r.Oddities, dispatch.Oddity{Field: "config.pollIntervalMs", Note: fmt.Sprintf(
			"%v ms is outside the %s..%s any dispatch loop polls at: %s used",
			*st.Config.PollIntervalMs, dispatch.MinPollInterval, dispatch.MaxPollInterval, dispatch.MaxPollInterval)})
		r.Interval = dispatch.MaxPollInterval
	}
	threshold, odd := dispatch.ClampStaleThreshold(st.Threshold(), r.Interval)
	r.Threshold = threshold
	if odd != nil {
		r.Oddities = append(r.Oddities, *odd)
	}
	h := st.Health
	if h == nil {
		return r
	}
	r.HealthKnown = true
	for _, f := range []struct {
		field string
		ts    *Timestamp
		to    *time.Time
	}{{"health.computedAt", h.ComputedAt, &r.ComputedAt}, {"health.lastPollStartedAt", h.LastPollStartedAt, &r.LastStarted},
		{"health.lastPollCompletedAt", h.LastPollCompletedAt, &r.LastCompleted}} {
		if f.ts == nil {
			continue
		}
		*f.to = f.ts.Time()
		if f.to.IsZero() && r.Implausible == nil {
			// 0001-01-01T00:00:00Z: present, but a Report's zero is absent.
			r.Implausible = &dispatch.Oddity{Field: f.field, Note: "0001-01-01T00:00:00Z is before 1970: no evidence of the loop"}
		}
	}
	if h.ReadyUnassignedTasks != nil && h.AvailableWorkers != nil {
		r.QueueKnown, r.Ready, r.Workers = true, *h.ReadyUnassignedTasks, *h.AvailableWorkers
		for _, c := range []struct {
			field string
			n     int
		}{{"health.readyUnassignedTasks", r.Ready}, {"health.availableWorkers", r.Workers}} {
			if c.n > dispatch.MaxCount {
				r.Oddities = append(r.Oddities, dispatch.Oddity{Field: c.field, Note: fmt.Sprintf(
					"%d is more than any daemon holds (%d): the queue is not judged or exported", c.n, dispatch.MaxCount)})
				r.QueueKnown, r.Ready, r.Workers = false, 0, 0
			}
		}
	}
	return r
}

// Plausible is st without the fields, other than the loop's, that no daemon
// can mean at our time now, and those fields as Oddities; st itself is not
// changed. A rate limit's soonestReset further than
// dispatch.MaxRateLimitHorizon from our clock (year 1, year 9999) is
// dropped: the rate limit itself (isPaused) stands. The loop's fields are
// the Tracker's (Report, dispatch.Tracker.Answer).
func (st *Status) Plausible(now time.Time) (*Status, []dispatch.Oddity) {
	rl := st.RateLimit
	if rl == nil || rl.SoonestReset == nil || dispatch.PlausibleRateLimitReset(rl.SoonestReset.Time(), now) {
		return st, nil
	}
	odd := dispatch.Oddity{Field: "rateLimit.soonestReset", Note: fmt.Sprintf(
		"%s is more than %s from our clock, no rate limit's reset: not exported",
		rl.SoonestReset.Time().UTC().Format(time.RFC3339), dispatch.MaxRateLimitHorizon)}
	out, limit := *st, *rl
	limit.SoonestReset = nil
	out.RateLimit = &limit
	return &out, []dispatch.Oddity{odd}
}
