package family

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// The reasons of dispatch_status_request_failures_total.
const (
	ReasonTimeout    = "timeout"     // no answer within the timeout
	ReasonConnect    = "connect"     // refused, unresolvable, unreachable
	ReasonTLS        = "tls"         // handshake or certificate failure
	ReasonHTTPStatus = "http_status" // answered, but not 2xx
	ReasonDecode     = "decode"      // the body is not a status
	ReasonTooLarge   = "too_large"   // the body exceeds the cap
	// ReasonImplausible: a status that decodes, with a loop timestamp no
	// daemon can mean or a computedAt at odds with our clock or the
	// daemon's own stamps (dispatch.Observation.Implausible).
	ReasonImplausible = "implausible"
	ReasonOther       = "other" // anything else (connection reset, ...)
)

// NumReasons is how many failure reasons there are.
const NumReasons = 8

// Reasons lists the failure reasons, in the order of Status.Failures;
// other is last.
func Reasons() [NumReasons]string {
	return [NumReasons]string{ReasonTimeout, ReasonConnect, ReasonTLS, ReasonHTTPStatus, ReasonDecode, ReasonTooLarge,
		ReasonImplausible, ReasonOther}
}

// The reasons of dispatch_liveness_restart_requests_total.
const (
	RestartReasonHang  = "hang"  // the daemon's HTTP server hangs
	RestartReasonStale = "stale" // its answers show a wedged loop
)

// The indexes of Status.Restarts, one per restart reason.
const (
	RestartHang  = iota // RestartReasonHang
	RestartStale        // RestartReasonStale
)

// RestartReasons lists the restart reasons, in the order of
// Status.Restarts.
func RestartReasons() [2]string {
	var r [2]string
	r[RestartHang], r[RestartStale] = RestartReasonHang, RestartReasonStale
	return r
}

// Labels are the label pairs of one loop's series, built once per loop (or
// target) and only ever read: building them per series was about half of a
// probe's allocations.
type Labels struct {
	pairs   []*dto.LabelPair
	reason  [NumReasons][]*dto.LabelPair
	result  [3][]*dto.LabelPair
	restart [2][]*dto.LabelPair
}

// NewLabels builds the label pairs of loop's series; bytes of loop that
// are not valid UTF-8 become U+FFFD.
func NewLabels(loop string) *Labels {
	pair := func(name, value string) *dto.LabelPair {
		return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
	}
	// A loop's name is any string its daemon chose; a label value that is
	// not valid UTF-8 would make Prometheus reject the whole scrape, and a
	// registry drop the series.
	loop = strings.ToValidUTF8(loop, "\uFFFD")
	l := &Labels{pairs: []*dto.LabelPair{pair(LoopLabel, loop)}}
	// Sorted by label name, as the exposition wants them: loop < reason,
	// loop < result.
	for i, r := range Reasons() {
		l.reason[i] = []*dto.LabelPair{l.pairs[0], pair("reason", r)}
	}
	for i, r := range RestartReasons() {
		l.restart[i] = []*dto.LabelPair{l.pairs[0], pair("reason", r)}
	}
	for _, r := range dispatch.Results() {
		l.result[r] = []*dto.LabelPair{l.pairs[0], pair("result", r.String())}
	}
	return l
}

// Loop is the loop label's value: the name as exported.
func (l *Labels) Loop() string { return l.pairs[0].GetValue() }

// Sample is what one read of one loop shows, whatever its source, and the
// decision taken on it.
type Sample struct {
	// Labels are the loop's label pairs.
	Labels *Labels
	// Health is the loop as judged; nil: nothing known of it.
	Health *dispatch.Health
	// Assessment is the decision every output shows.
	Assessment dispatch.Assessment
	// Stats are an in-process loop's cycle counters; nil for a sidecar.
	Stats *dispatch.CycleStats
	// Status is what only a status endpoint tells; nil in process.
	Status *Status
}

// Status is what a sidecar's read of a status endpoint adds to a Sample.
type Status struct {
	// Duration is how long the status request took this scrape.
	Duration time.Duration
	// Failures counts failed status requests, in the order of Reasons.
	Failures [NumReasons]uint64
	// Restarts counts restart requests, in the order of RestartReasons.
	Restarts [2]uint64
	// BudgetSpent is the restart policy's spent budget.
	BudgetSpent bool
	// Body is the decoded status; nil unless the daemon answered in the
	// contract.
	Body *smithy.Status
}

// point is one series of a Sample: its family, label pairs and value, or
// for the cycle duration histogram, the loop's cycle stats.
type point struct {
	f      int
	labels []*dto.LabelPair
	v      float64
	stats  *dispatch.CycleStats
}

// points calls add with each series of s. dispatch_up and
// dispatch_poll_stale are the assessment's, so every output shows one
// decision; nothing else is exported that was not observed: no timestamp
// before the first cycle, no queue unless the latest answer reported it.
func (s Sample) points(add func(point)) {
	l := s.Labels
	gauge := func(f int, v float64) { add(point{f: f, labels: l.pairs, v: v}) }
	a := s.Assessment
	gauge(Up, boolValue(a.Up))
	if a.Evidence != dispatch.EvidenceNone {
		gauge(PollStale, boolValue(a.Stale))
	}
	if st := s.Stats; st != nil {
		for _, r := range dispatch.Results() {
			add(point{f: PollCycles, labels: l.result[r], v: float64(st.Results[r])})
		}
		add(point{f: PollCycleDuration, labels: l.pairs, stats: st})
	}
	if st := s.Status; st != nil {
		gauge(StatusRequestDuration, st.Duration.Seconds())
		for i := range NumReasons {
			add(point{f: StatusRequestFailures, labels: l.reason[i], v: float64(st.Failures[i])})
		}
		for i := range st.Restarts {
			add(point{f: LivenessRestartRequests, labels: l.restart[i], v: float64(st.Restarts[i])})
		}
		gauge(LivenessRestartBudgetSpent, boolValue(st.BudgetSpent))
		if b := st.Body; b != nil {
			gauge(DaemonAvailable, boolValue(*b.Available))
			if h := b.Health; h != nil && h.PollStale != nil {
				gauge(DaemonReportedStale, boolValue(*h.PollStale))
			}
			if rl := b.RateLimit; rl != nil {
				gauge(RateLimitPaused, boolValue(rl.IsPaused))
				if rl.SoonestReset != nil {
					gauge(RateLimitSoonestReset, unixSeconds(rl.SoonestReset.Time()))
				}
			}
		}
	}
	h := s.Health
	if h == nil {
		return
	}
	gauge(DaemonRunning, boolValue(h.Running))
	gauge(PollStaleThreshold, h.StaleThreshold().Seconds())
	if h.Interval > 0 {
		gauge(PollInterval, h.Interval.Seconds())
	}
	if !h.Observed {
		return
	}
	started, completed := h.Reported()
	if !started.IsZero() {
		gauge(PollLastStarted, unixSeconds(started))
	}
	if !completed.IsZero() {
		gauge(PollLastCompleted, unixSeconds(completed))
	}
	gauge(PollInFlight, boolValue(h.InFlight()))
	if h.QueueKnown {
		gauge(StuckQueue, boolValue(h.Stuck()))
		gauge(ReadyUnassignedTasks, float64(h.ReadyUnassignedTasks))
		gauge(AvailableWorkers, float64(h.AvailableWorkers))
	}
}

// Collect sends s's series, for a registry (the in-process LoopCollector
// and tests).
func (set *Set) Collect(ch chan<- prometheus.Metric, s Sample) {
	s.points(func(p point) { ch <- &value{desc: set[p.f], p: p} })
}

// value is one series of a loop as a prometheus.Metric, from a descriptor
// declared once and label pairs built once: what MustNewConstMetric makes,
// without building the label pairs each time.
type value struct {
	desc *prometheus.Desc
	p    point
}

// Desc implements prometheus.Metric.
func (m *value) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric.
func (m *value) Write(out *dto.Metric) error {
	m.p.write(out, new(valueOf))
	return nil
}

// valueOf holds a gauge's or counter's value, for its message to point to.
type valueOf struct {
	v float64
	g dto.Gauge
	c dto.Counter
}

// write fills out with p, its value held in v.
func (p point) write(out *dto.Metric, v *valueOf) {
	out.Label = p.labels
	switch table[p.f].typ {
	case histogram:
		out.Histogram = newHistogram(p.stats)
	case counter:
		v.v = p.v
		v.c.Value = &v.v
		out.Counter = &v.c
	default:
		v.v = p.v
		v.g.Value = &v.v
		out.Gauge = &v.g
	}
}

// newHistogram is the cycle duration histogram of st, its buckets sorted by
// upper bound, as prometheus.NewConstHistogram writes it.
func newHistogram(st *dispatch.CycleStats) *dto.Histogram {
	bounds := slices.Sorted(maps.Keys(st.Buckets))
	counts := make([]uint64, len(bounds))
	buckets := make([]dto.Bucket, len(bounds))
	ptrs := make([]*dto.Bucket, len(bounds))
	for i, b := range bounds {
		counts[i] = st.Buckets[b]
		buckets[i].UpperBound, buckets[i].CumulativeCount = &bounds[i], &counts[i]
		ptrs[i] = &buckets[i]
	}
	return &dto.Histogram{SampleCount: &st.Count, SampleSum: &st.SumSeconds, Bucket: ptrs}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is a Unix time in seconds with sub-second precision, summed
// so that a millisecond timestamp prints as one (…854.27, not …854.2700002).
func unixSeconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }
