package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// statusDescs are the families only a status endpoint can tell, beyond the
// shared ones.
type statusDescs struct {
	available, reportedStale, rateLimitPaused, soonestReset, requestDuration, requestFailures,
	restartRequests, restartBudgetSpent *prometheus.Desc
}

func newStatusDescs(names *descNames) *statusDescs {
	newDesc := names.desc
	return &statusDescs{
		available: newDesc("daemon_available",
			"1 when the server has a dispatch daemon (smithy's available); 0 when it has none, and then reason says why."),
		reportedStale: newDesc("daemon_reported_stale",
			"The daemon's own staleness verdict (smithy's health.pollStale), beside dispatch_poll_stale so disagreements show."),
		rateLimitPaused: newDesc("rate_limit_paused",
			"1 when every executable is rate-limited: dispatch is paused on purpose."),
		soonestReset: newDesc("rate_limit_soonest_reset_seconds",
			"Unix time the soonest rate limit resets; absent when none is set."),
		requestDuration: newDesc("status_request_duration_seconds",
			"Duration of the status request made for this scrape, including joining one already in flight."),
		requestFailures: newDesc("status_request_failures_total",
			"Failed status requests, by reason: timeout, connect, tls, http_status, decode, too_large, other.", "reason"),
		restartRequests: newDesc("liveness_restart_requests_total",
			"Restart requests /-/target/healthy made (each a run of 503 answers), by reason: hang (the daemon's server hangs) or stale (its answers show a wedged loop). Shadow mode makes none.", "reason"),
		restartBudgetSpent: newDesc("liveness_restart_budget_spent",
			"1 when the restart budget (--liveness.restart-budget) is spent: restarts brought no completed cycle back, and /-/target/healthy stops asking for them until a cycle completes."),
	}
}

func (d *statusDescs) describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{d.available, d.reportedStale, d.rateLimitPaused, d.soonestReset, d.requestDuration, d.requestFailures,
		d.restartRequests, d.restartBudgetSpent} {
		ch <- desc
	}
}

func (d *statusDescs) collect(ch chan<- prometheus.Metric, labels *loopLabels, r probeResult) {
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- &value{desc: desc, labels: labels.loop, typ: prometheus.GaugeValue, v: v}
	}
	gauge(d.requestDuration, r.duration.Seconds())
	for i := range numReasons {
		ch <- &value{desc: d.requestFailures, labels: labels.reason[i], typ: prometheus.CounterValue, v: float64(r.failures[i])}
	}
	for i := range r.liveness.restarts {
		ch <- &value{desc: d.restartRequests, labels: labels.restart[i], typ: prometheus.CounterValue, v: float64(r.liveness.restarts[i])}
	}
	gauge(d.restartBudgetSpent, boolValue(r.liveness.spent))
	st := r.status
	if st == nil {
		return
	}
	gauge(d.available, boolValue(*st.Available))
	if h := st.Health; h != nil && h.PollStale != nil {
		gauge(d.reportedStale, boolValue(*h.PollStale))
	}
	if rl := st.RateLimit; rl != nil {
		gauge(d.rateLimitPaused, boolValue(rl.IsPaused))
		if rl.SoonestReset != nil {
			gauge(d.soonestReset, unixSeconds(rl.SoonestReset.Time()))
		}
	}
}
