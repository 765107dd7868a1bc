// Package family declares every metric family of dispatch_exporter once, in
// one table, and turns what one read of a loop shows (a Sample) into those
// families' series. The in-process collector (package collector) and the
// sidecar's targets (package collector/sidecar) both export through it, so
// dashboards and alerts serve either source.
package family

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every metric of a dispatch loop.
const Namespace = "dispatch"

// LoopLabel names the label that tells loops apart.
const LoopLabel = "loop"

// The exporter's own families: config reloads, and what its HTTP server
// refused or shed to stay within its limits.
const (
	ReloadSuccessfulMetric = "dispatch_exporter_config_last_reload_successful"
	ReloadTimestampMetric  = "dispatch_exporter_config_last_reload_success_timestamp_seconds"
	// UnknownTargetRequestsMetric counts /probe and /-/target/healthy
	// requests for a target that is not configured (no label: the names
	// are the caller's, without bound).
	UnknownTargetRequestsMetric = "dispatch_exporter_unknown_target_requests_total"
	// ShedConnectionsMetric counts client connections closed to stay
	// within --web.max-connections.
	ShedConnectionsMetric = "dispatch_exporter_http_connections_shed_total"
)

// The families of a loop, in the order of table.
const (
	Up = iota
	DaemonRunning
	PollLastStarted
	PollLastCompleted
	PollInFlight
	PollStale
	PollStaleThreshold
	PollInterval
	StuckQueue
	ReadyUnassignedTasks
	AvailableWorkers
	PollCycles
	PollCycleDuration
	// The sidecar's, from the status endpoint and the restart policy.
	DaemonAvailable
	DaemonReportedStale
	RateLimitPaused
	RateLimitSoonestReset
	StatusRequestDuration
	StatusRequestFailures
	LivenessRestartRequests
	LivenessRestartBudgetSpent
	numFamilies
)

// firstStatusFamily is the first family only a status endpoint can tell.
const firstStatusFamily = DaemonAvailable

// spec is one family: its name (less the namespace), help, extra label and
// type.
type spec struct {
	name, help, label string
	typ               dto.MetricType
}

// The types of the families.
const (
	gauge     = dto.MetricType_GAUGE
	counter   = dto.MetricType_COUNTER
	histogram = dto.MetricType_HISTOGRAM
)

// table is every family of a loop, declared once.
var table = [numFamilies]spec{
	Up:            {"up", "1 when the loop's state could be read: always 1 in process; for a sidecar, 1 only when the status request of this scrape returned a usable status.", "", gauge},
	DaemonRunning: {"daemon_running", "1 when the dispatch loop is started (smithy's isRunning), 0 when stopped.", "", gauge},
	PollLastStarted: {"poll_last_started_seconds",
		"Unix time the latest poll cycle started, on the daemon's clock; absent until a cycle has started.", "", gauge},
	PollLastCompleted: {"poll_last_completed_seconds",
		"Unix time the latest poll cycle completed (successfully or not), on the daemon's clock; absent until a cycle has completed.", "", gauge},
	PollInFlight: {"poll_in_flight", "1 while a poll cycle runs: it started and has not completed since.", "", gauge},
	PollStale: {"poll_stale",
		"1 when the evidence shows a hung loop: a cycle in flight for longer than the stale threshold (running or stopped), or a running loop with no cycle completed within it since its run began; or, while the daemon hangs, the same extrapolated from its last usable status. Never on unreadable or refused status requests.", "", gauge},
	PollStaleThreshold: {"poll_stale_threshold_seconds", "Staleness threshold in force: configured, or max(60s, 10 x poll interval).", "", gauge},
	PollInterval:       {"poll_interval_seconds", "Configured interval between the starts of two poll cycles.", "", gauge},
	StuckQueue: {"stuck_queue",
		"1 when ready tasks wait and no worker can take them (ready_unassigned_tasks > 0 and available_workers == 0).", "", gauge},
	ReadyUnassignedTasks: {"ready_unassigned_tasks", "Ready tasks with no assignee.", "", gauge},
	AvailableWorkers:     {"available_workers", "Workers registered, enabled and not terminated; busy ones count.", "", gauge},
	PollCycles: {"poll_cycles_total",
		"Poll cycles finished, by result: ok, error (the cycle returned an error) or panic (recovered).", "result", counter},
	PollCycleDuration: {"poll_cycle_duration_seconds", "Duration of finished poll cycles.", "", histogram},
	DaemonAvailable: {"daemon_available",
		"1 when the server has a dispatch daemon (smithy's available); 0 when it has none, and then reason says why.", "", gauge},
	DaemonReportedStale: {"daemon_reported_stale",
		"The daemon's own staleness verdict (smithy's health.pollStale), beside dispatch_poll_stale so disagreements show.", "", gauge},
	RateLimitPaused:       {"rate_limit_paused", "1 when every executable is rate-limited: dispatch is paused on purpose.", "", gauge},
	RateLimitSoonestReset: {"rate_limit_soonest_reset_seconds", "Unix time the soonest rate limit resets; absent when none is set.", "", gauge},
	StatusRequestDuration: {"status_request_duration_seconds",
		"Duration of the status request made for this scrape, including joining one already in flight.", "", gauge},
	StatusRequestFailures: {"status_request_failures_total",
		"Failed status requests, by reason: timeout, connect, tls, http_status, decode, too_large, implausible (a field no daemon can mean, or a clock at odds with ours or its own stamps), other.", "reason", counter},
	LivenessRestartRequests: {"liveness_restart_requests_total",
		"Restart requests /-/target/healthy made (each a run of 503 answers), by reason: hang (the daemon's server hangs) or stale (its answers show a wedged loop). Shadow mode makes none.", "reason", counter},
	LivenessRestartBudgetSpent: {"liveness_restart_budget_spent",
		"1 when the restart budget (--liveness.restart-budget) is spent: restarts brought no completed cycle back, and /-/target/healthy stops asking for them until a cycle completes.", "", gauge},
}

// Name is the full name of family f.
func Name(f int) string { return prometheus.BuildFQName(Namespace, "", table[f].name) }

// Set is the descriptors of every family, built once and shared by every
// loop and target (a thousand targets need not hold a thousand copies).
type Set [numFamilies]*prometheus.Desc

// NewSet builds the descriptors of every family.
func NewSet() *Set {
	var s Set
	for f, sp := range table {
		labels := []string{LoopLabel}
		if sp.label != "" {
			labels = append(labels, sp.label)
		}
		s[f] = prometheus.NewDesc(Name(f), sp.help, labels, nil)
	}
	return &s
}

// Describe sends the descriptors of a loop's families; with status, those
// only a status endpoint can tell too.
func (s *Set) Describe(ch chan<- *prometheus.Desc, status bool) {
	n := firstStatusFamily
	if status {
		n = numFamilies
	}
	for _, d := range s[:n] {
		ch <- d
	}
}

// Names lists every family either source can export, and the exporter's
// own families, for checking dashboards and alerts against. Histograms
// also export _bucket, _sum and _count series (SeriesNames).
func Names() []string {
	names := make([]string, 0, numFamilies+4)
	for f := range table {
		names = append(names, Name(f))
	}
	return append(names, ExporterNames()...)
}

// ExporterNames lists the exporter's own families (reloads, refused
// requests, shed connections), which no loop carries.
func ExporterNames() []string {
	return []string{ReloadSuccessfulMetric, ReloadTimestampMetric, UnknownTargetRequestsMetric, ShedConnectionsMetric}
}

// SeriesNames is the set of series names the families can carry: every
// family, and a histogram's _bucket, _sum and _count.
func SeriesNames() map[string]bool {
	out := map[string]bool{}
	for _, n := range Names() {
		out[n] = true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		out[Name(PollCycleDuration)+suffix] = true
	}
	return out
}
