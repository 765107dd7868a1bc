package handler

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// exposer writes one collector's metrics as a scrape answer without building
// a prometheus.Registry per scrape: it collects the metrics, groups and
// sorts them exactly as Registry.Gather does, and encodes them with
// expfmt into a pooled buffer sent with a Content-Length. Profiled under
// one scrape at a time, registering a collector in a fresh registry and
// gathering it cost more than the rest of a probe's own work.
//
// Its zero value is ready; it must not be copied after first use.
type exposer struct {
	// families are the name, help and unit of each descriptor seen,
	// learned once from a registry. Descriptors are long-lived (shared by
	// every target); the map is cleared if it ever grows past
	// maxFamilies, so a collector that made descriptors per scrape would
	// cost time, never memory.
	families sync.Map // *prometheus.Desc -> *familyHead
	count    atomic.Int64
	// buffers hold answers being written, reused across scrapes.
	buffers sync.Pool
}

// maxFamilies bounds exposer.families.
const maxFamilies = 4096

// maxPooledBuffer is the largest buffer put back in the pool.
const maxPooledBuffer = 1 << 20

// familyHead is what a metric family takes from its descriptor.
type familyHead struct {
	name, help string
	unit       *string
}

// gather collects c and returns its metric families as a Registry holding
// only c would gather them: families sorted by name, metrics within one
// sorted by label values. Metrics that fail to write are left out and
// their errors returned, joined.
func (e *exposer) gather(c prometheus.Collector) ([]*dto.MetricFamily, error) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		defer close(ch)
		c.Collect(ch)
	}()
	type entry struct {
		desc *prometheus.Desc
		mf   *dto.MetricFamily
	}
	var (
		seen []entry // a few dozen at most: a slice beats a map
		mfs  []*dto.MetricFamily
		errs []error
	)
	for m := range ch {
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			errs = append(errs, fmt.Errorf("collected metric %s: %w", m.Desc(), err))
			continue
		}
		typ, ok := metricType(pb)
		if !ok {
			errs = append(errs, fmt.Errorf("collected metric %s has no value", m.Desc()))
			continue
		}
		d := m.Desc()
		var mf *dto.MetricFamily
		for _, s := range seen {
			if s.desc == d {
				mf = s.mf
				break
			}
		}
		if mf == nil {
			head, err := e.head(m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, f := range mfs { // another descriptor of the same name
				if f.GetName() == head.name {
					mf = f
					break
				}
			}
			if mf == nil {
				mf = &dto.MetricFamily{Name: &head.name, Help: &head.help, Type: typ.Enum(), Unit: head.unit}
				mfs = append(mfs, mf)
			}
			seen = append(seen, entry{d, mf})
		}
		if mf.GetType() != typ {
			errs = append(errs, fmt.Errorf("collected metric %s is a %s, its family a %s", d, typ, mf.GetType()))
			continue
		}
		mf.Metric = append(mf.Metric, pb)
	}
	for _, mf := range mfs {
		slices.SortStableFunc(mf.Metric, compareMetrics)
		// Two metrics of one family with the same labels: a registry
		// keeps the first and reports the second.
		mf.Metric = slices.CompactFunc(mf.Metric, func(a, b *dto.Metric) bool {
			if sameLabels(a, b) {
				errs = append(errs, fmt.Errorf("collected metric %s %s was collected before with the same name and label values", mf.GetName(), b))
				return true
			}
			return false
		})
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return mfs, errors.Join(errs...)
}

// head returns the name, help and unit of m's family, learning them from a
// registry the first time m's descriptor is seen: the registry is the one
// authority on what it would print.
func (e *exposer) head(m prometheus.Metric) (*familyHead, error) {
	d := m.Desc()
	if h, ok := e.families.Load(d); ok {
		return h.(*familyHead), nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(single{m}); err != nil {
		return nil, fmt.Errorf("descriptor %s: %w", d, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("descriptor %s: %w", d, err)
	}
	if len(mfs) != 1 {
		return nil, fmt.Errorf("descriptor %s: gathered %d families, want 1", d, len(mfs))
	}
	h := &familyHead{name: mfs[0].GetName(), help: mfs[0].GetHelp(), unit: mfs[0].Unit}
	if e.count.Add(1) > maxFamilies {
		e.families.Clear()
		e.count.Store(1)
	}
	e.families.Store(d, h)
	return h, nil
}

// single is a collector of one metric.
type single struct{ m prometheus.Metric }

func (s single) Describe(ch chan<- *prometheus.Desc) { ch <- s.m.Desc() }
func (s single) Collect(ch chan<- prometheus.Metric) { ch <- s.m }

func sameLabels(a, b *dto.Metric) bool {
	return slices.EqualFunc(a.Label, b.Label, func(x, y *dto.LabelPair) bool {
		return x.GetName() == y.GetName() && x.GetValue() == y.GetValue()
	})
}

// metricType is the type of a written metric, as a registry infers it.
func metricType(m *dto.Metric) (dto.MetricType, bool) {
	switch {
	case m.Gauge != nil:
		return dto.MetricType_GAUGE, true
	case m.Counter != nil:
		return dto.MetricType_COUNTER, true
	case m.Summary != nil:
		return dto.MetricType_SUMMARY, true
	case m.Untyped != nil:
		return dto.MetricType_UNTYPED, true
	case m.Histogram != nil:
		return dto.MetricType_HISTOGRAM, true
	}
	return 0, false
}

// compareMetrics orders the metrics of one family as a registry does: by
// label values, then timestamp, a missing one last.
func compareMetrics(a, b *dto.Metric) int {
	if len(a.Label) != len(b.Label) {
		return len(a.Label) - len(b.Label)
	}
	for i, l := range a.Label {
		if c := strings.Compare(l.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	switch {
	case a.TimestampMs == nil && b.TimestampMs == nil:
		return 0
	case a.TimestampMs == nil:
		return 1
	case b.TimestampMs == nil:
		return -1
	}
	return int(min(max(a.GetTimestampMs()-b.GetTimestampMs(), -1), 1))
}

// serve answers a scrape of c, uncompressed, in the format the scraper
// asks for (as promhttp negotiates it, without OpenMetrics), honouring
// promhttp's name[] filter; gather errors are logged and what could be
// gathered is served, as promhttp.ContinueOnError does.
func (e *exposer) serve(w http.ResponseWriter, r *http.Request, c prometheus.Collector, logger log.Logger) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	mfs, err := e.gather(c)
	if err != nil {
		level.Error(logger).Log("msg", "error gathering metrics: "+err.Error())
		if len(mfs) == 0 {
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	buf, _ := e.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = &bytes.Buffer{}
	}
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			e.buffers.Put(buf)
		}
	}()
	buf.Reset()
	var filter []string
	if r.URL != nil {
		filter = r.URL.Query()["name[]"]
	}
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range mfs {
		if filter != nil && !slices.Contains(filter, mf.GetName()) {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			level.Error(logger).Log("msg", "error encoding metric family: "+err.Error())
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		if err := closer.Close(); err != nil {
			level.Error(logger).Log("msg", "error encoding metric family: "+err.Error())
		}
	}
	h := w.Header()
	h.Add("Vary", "Accept")
	h.Set("Content-Type", string(format))
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// gatherer is a prometheus.Gatherer of c, gathered as gather does.
func (e *exposer) gatherer(c prometheus.Collector) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return e.gather(c) })
}
