package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// loopLabels are the label pairs of one loop's series, built once per loop
// (or target): prometheus.MustNewConstMetric built them afresh for every
// series of every scrape, about half of a probe's allocations. They are
// shared by every scrape and only ever read.
type loopLabels struct {
	loop    []*dto.LabelPair
	reason  [numReasons][]*dto.LabelPair // dispatch_status_request_failures_total, in the order of reasons()
	result  [3][]*dto.LabelPair          // dispatch_poll_cycles_total, by dispatch.Result
	restart [2][]*dto.LabelPair          // dispatch_liveness_restart_requests_total, in the order of restartReasons()
}

func newLoopLabels(loop string) *loopLabels {
	pair := func(name, value string) *dto.LabelPair {
		return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
	}
	l := &loopLabels{loop: []*dto.LabelPair{pair(LoopLabel, loop)}}
	// Sorted by label name, as the exposition wants them: loop < reason,
	// loop < result.
	for i, r := range reasons() {
		l.reason[i] = []*dto.LabelPair{l.loop[0], pair("reason", r)}
	}
	for i, r := range restartReasons() {
		l.restart[i] = []*dto.LabelPair{l.loop[0], pair("reason", r)}
	}
	for _, r := range dispatch.Results() {
		l.result[r] = []*dto.LabelPair{l.loop[0], pair("result", r.String())}
	}
	return l
}

// value is one gauge or counter sample of a loop, from a descriptor
// declared once and label pairs built once: what MustNewConstMetric makes,
// without building the label pairs each time.
type value struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	typ    prometheus.ValueType
	v      float64
}

// Desc implements prometheus.Metric.
func (m *value) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric.
func (m *value) Write(out *dto.Metric) error {
	out.Label = m.labels
	v := m.v
	if m.typ == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &v}
	} else {
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}
