// Package collector holds the Prometheus collectors of dispatch_exporter:
// LoopCollector reads dispatch.Loops in process, Target reads a remote
// daemon's status endpoint. Both emit the same metric families from the same
// descriptors, so dashboards and alerts serve either.
package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Namespace prefixes every metric of a dispatch loop.
const Namespace = "dispatch"

// LoopLabel names the label that tells loops apart.
const LoopLabel = "loop"

// descs are the descriptors of a dispatch loop's metrics, declared once and
// shared by both sources so their output cannot drift.
type descs struct {
	up, running, lastStarted, lastCompleted, inFlight, stale,
	threshold, interval, stuck, ready, workers, cycles, cycleDuration *prometheus.Desc
}

// descNames records the names of the descriptors it makes.
type descNames []string

// desc makes a descriptor of a loop's family: namespace dispatch, label loop.
func (n *descNames) desc(name, help string, labels ...string) *prometheus.Desc {
	fq := prometheus.BuildFQName(Namespace, "", name)
	*n = append(*n, fq)
	return prometheus.NewDesc(fq, help, append([]string{LoopLabel}, labels...), nil)
}

// FamilyNames lists every metric family the collectors can export, from
// either source, for checking dashboards and alerts against. Histograms
// also export _bucket, _sum and _count series.
func FamilyNames() []string {
	var names descNames
	newDescs(&names)
	newStatusDescs(&names)
	return append(names, ReloadSuccessfulMetric, ReloadTimestampMetric)
}

// SeriesNames is the set of series names the collectors can export: every
// family, and a histogram's _bucket, _sum and _count.
func SeriesNames() map[string]bool {
	out := map[string]bool{}
	for _, n := range FamilyNames() {
		out[n] = true
	}
	hist := prometheus.BuildFQName(Namespace, "", cycleDurationName)
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		out[hist+suffix] = true
	}
	return out
}

const cycleDurationName = "poll_cycle_duration_seconds"

func newDescs(names *descNames) *descs {
	newDesc := names.desc
	return &descs{
		up: newDesc("up",
			"1 when the loop's state could be read: always 1 in process; for a sidecar, 1 only when the status request of this scrape returned a usable status."),
		running: newDesc("daemon_running",
			"1 when the dispatch loop is started (smithy's isRunning), 0 when stopped."),
		lastStarted: newDesc("poll_last_started_seconds",
			"Unix time the latest poll cycle started, on the daemon's clock; absent until a cycle has started."),
		lastCompleted: newDesc("poll_last_completed_seconds",
			"Unix time the latest poll cycle completed (successfully or not), on the daemon's clock; absent until a cycle has completed."),
		inFlight: newDesc("poll_in_flight",
			"1 while a poll cycle runs: it started and has not completed since."),
		stale: newDesc("poll_stale",
			"1 when the evidence shows a hung loop: a cycle in flight for longer than the stale threshold (running or stopped), or a running loop with no cycle completed within it since its run began; or, while the daemon hangs, the same extrapolated from its last usable status. Never on unreadable or refused status requests."),
		threshold: newDesc("poll_stale_threshold_seconds",
			"Staleness threshold in force: configured, or max(60s, 10 x poll interval)."),
		interval: newDesc("poll_interval_seconds",
			"Configured interval between the starts of two poll cycles."),
		stuck: newDesc("stuck_queue",
			"1 when ready tasks wait and no worker can take them (ready_unassigned_tasks > 0 and available_workers == 0)."),
		ready: newDesc("ready_unassigned_tasks",
			"Ready tasks with no assignee."),
		workers: newDesc("available_workers",
			"Workers registered, enabled and not terminated; busy ones count."),
		cycles: newDesc("poll_cycles_total",
			"Poll cycles finished, by result: ok, error (the cycle returned an error) or panic (recovered).", "result"),
		cycleDuration: newDesc(cycleDurationName,
			"Duration of finished poll cycles."),
	}
}

func (d *descs) describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{d.up, d.running, d.lastStarted, d.lastCompleted, d.inFlight,
		d.stale, d.threshold, d.interval, d.stuck, d.ready, d.workers, d.cycles, d.cycleDuration} {
		ch <- desc
	}
}

// sample is what one scrape knows of one loop, whatever its source, and
// the decision taken on it.
type sample struct {
	loop       string
	labels     *loopLabels      // loop's label pairs, built once
	health     *dispatch.Health // nil: nothing known of the loop
	assessment dispatch.Assessment
	stats      *dispatch.CycleStats
}

// collect turns a sample and its assessment into metrics. dispatch_up and
// dispatch_poll_stale are the assessment's, so every output shows one
// decision; nothing else is exported that was not observed: no timestamp
// before the first cycle, no queue unless the latest answer reported it.
func (d *descs) collect(ch chan<- prometheus.Metric, s sample) {
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- &value{desc: desc, labels: s.labels.loop, typ: prometheus.GaugeValue, v: v}
	}
	a := s.assessment
	gauge(d.up, boolValue(a.Up))
	if a.Evidence != dispatch.EvidenceNone {
		gauge(d.stale, boolValue(a.Stale))
	}
	if st := s.stats; st != nil {
		for _, r := range dispatch.Results() {
			ch <- &value{desc: d.cycles, labels: s.labels.result[r], typ: prometheus.CounterValue, v: float64(st.Results[r])}
		}
		ch <- prometheus.MustNewConstHistogram(d.cycleDuration, st.Count, st.SumSeconds, st.Buckets, s.loop)
	}
	h := s.health
	if h == nil {
		return
	}
	gauge(d.running, boolValue(h.Running))
	gauge(d.threshold, h.StaleThreshold().Seconds())
	if h.Interval > 0 {
		gauge(d.interval, h.Interval.Seconds())
	}
	if !h.Observed {
		return
	}
	started, completed := h.Reported()
	if !started.IsZero() {
		gauge(d.lastStarted, unixSeconds(started))
	}
	if !completed.IsZero() {
		gauge(d.lastCompleted, unixSeconds(completed))
	}
	gauge(d.inFlight, boolValue(h.InFlight()))
	if h.QueueKnown {
		gauge(d.stuck, boolValue(h.Stuck()))
		gauge(d.ready, float64(h.ReadyUnassignedTasks))
		gauge(d.workers, float64(h.AvailableWorkers))
	}
}
