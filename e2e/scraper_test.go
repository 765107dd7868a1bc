package e2e

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// Prometheus' scrape configuration in the simulation.
const (
	scrapeInterval = 15 * time.Second
	scrapeTimeout  = 10 * time.Second
	scrapeJitter   = time.Second
	// scrapeSlack is one scrape interval and its jitter.
	scrapeSlack = scrapeInterval + 2*scrapeJitter
)

// recording is what Prometheus stored: every series of every scrape, with
// staleness markers where a series vanished or a scrape failed, as
// Prometheus writes them.
type recording struct {
	mu     sync.Mutex
	series map[string]*series
}

// series is one recorded series.
type series struct {
	lset    labels.Labels
	samples []fsample
}

func newRecording() *recording { return &recording{series: map[string]*series{}} }

// add appends one scrape of instance at ts: values (nil when the scrape
// failed) by their label sets; series of the instance's previous scrape
// that are missing get a staleness marker.
func (r *recording) add(instance string, ts time.Time, values map[string]sampleValue, prev map[string]bool) map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := ts.UnixMilli()
	seen := make(map[string]bool, len(values))
	for key, v := range values {
		s := r.series[key]
		if s == nil {
			s = &series{lset: v.lset}
			r.series[key] = s
		}
		s.samples = append(s.samples, fsample{t, v.v})
		seen[key] = true
	}
	for key := range prev {
		if !seen[key] {
			s := r.series[key]
			s.samples = append(s.samples, fsample{t, math.Float64frombits(value.StaleNaN)})
		}
	}
	return seen
}

// sampleValue is one sample of a scrape.
type sampleValue struct {
	lset labels.Labels
	v    float64
}

// scraper is Prometheus scraping one target's metrics.
type scraper struct {
	tgt      *sidecar.Target
	instance string
	rec      *recording
	log      *eventLog
	rng      *rand.Rand
	scrapes  int
}

func (s *scraper) run(ctx context.Context) {
	var prev map[string]bool
	next := time.Now().Add(time.Duration(s.rng.Int64N(int64(scrapeInterval))))
	for {
		jitter := time.Duration(s.rng.Int64N(int64(2*scrapeJitter))) - scrapeJitter
		if !sleepUntil(ctx, next.Add(jitter)) {
			return
		}
		next = next.Add(scrapeInterval)
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
		p := s.tgt.Probe(sctx)
		timedOut := sctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.scrapes++
		values, err := gather(p, s.instance)
		up := 1.0
		if timedOut || err != nil {
			values, up = map[string]sampleValue{}, 0
		}
		ul := labels.FromStrings("__name__", "up", "job", "dispatch", "instance", s.instance)
		values[ul.String()] = sampleValue{ul, up}
		prev = s.rec.add(s.instance, start, values, prev)
		st := p.State()
		stale := "-"
		for _, v := range values {
			if v.lset.Get("__name__") == "dispatch_poll_stale" {
				stale = strconv.FormatFloat(v.v, 'g', -1, 64)
			}
		}
		s.log.add(s.instance+" scrape", "up=%v stale=%s %s (%s): %s", up, stale, st.State, st.Evidence, st.Reason)
	}
}

// gather collects a probe with a fresh pedantic registry, as the exporter's
// handler does, into samples labelled job="dispatch", instance.
func gather(c prometheus.Collector, instance string) (map[string]sampleValue, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]sampleValue{}
	put := func(name string, m *dto.Metric, v float64, extra ...string) {
		b := labels.NewScratchBuilder(len(m.GetLabel()) + 4)
		b.Add("__name__", name)
		b.Add("job", "dispatch")
		b.Add("instance", instance)
		for _, l := range m.GetLabel() {
			b.Add(l.GetName(), l.GetValue())
		}
		for i := 0; i+1 < len(extra); i += 2 {
			b.Add(extra[i], extra[i+1])
		}
		b.Sort()
		ls := b.Labels()
		out[ls.String()] = sampleValue{ls, v}
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				put(name, m, m.GetGauge().GetValue())
			case m.GetCounter() != nil:
				put(name, m, m.GetCounter().GetValue())
			case m.GetUntyped() != nil:
				put(name, m, m.GetUntyped().GetValue())
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				put(name+"_count", m, float64(h.GetSampleCount()))
				put(name+"_sum", m, h.GetSampleSum())
				bs := h.GetBucket()
				sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
				for _, b := range bs {
					put(name+"_bucket", m, float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				put(name+"_bucket", m, float64(h.GetSampleCount()), "le", "+Inf")
			}
		}
	}
	return out, nil
}
