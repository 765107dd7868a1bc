package handler

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposer answers a scrape without building a prometheus.Registry per
// scrape: it runs a collector's Collect on the scrape's goroutine, groups
// and sorts the metrics exactly as Registry.Gather does (merged with a
// gatherer's families for /metrics), writes gauge, counter and untyped
// families of the text format itself and leaves the rest to expfmt, and
// sends the answer from a pooled buffer with a Content-Length, gzipped when
// promhttp would gzip it. Profiled under one scrape at a time, registering
// a probe in a fresh registry, gathering it on other goroutines and
// encoding it with expfmt cost more than the rest of the probe's own work.
// Tests hold its answers byte-identical to promhttp's.
//
// Its zero value is ready; it must not be copied after first use. Its
// caches are bounded and only ever hold what a registry or promhttp would
// compute again.
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
	// slots and lists are what metrics collects into.
	slots, lists sync.Pool
	// gzips are gzip writers, reused.
	gzips sync.Pool
	// encodings remembers the content encoding for each Accept-Encoding.
	encodings     sync.Map // string -> string
	encodingCount atomic.Int64
	// formats remembers the format negotiated for each Accept header.
	formats     sync.Map // string -> negotiated
	formatCount atomic.Int64
}

// collectBuffer is how many metrics one Collect may send before the
// exposer has to drain them from another goroutine; a probe sends about 25.
const collectBuffer = 256

// spillAfter is how long a Collect runs before a drainer starts.
const spillAfter = 5 * time.Millisecond

// maxFormats bounds exposer.formats and exposer.encodings.
const maxFormats = 64

// maxFamilies bounds exposer.families.
const maxFamilies = 4096

// maxPooledBuffer is the largest buffer put back in the pool.
const maxPooledBuffer = 1 << 20

// familyHead is what a metric family takes from its descriptor.
type familyHead struct {
	name, help string
	unit       *string
	// typ is the type of the metric the head was learned from: shared by
	// the families of that type, never written to.
	typ *dto.MetricType
	// legacy: the family's name and label names are valid legacy
	// (pre-UTF-8) names, which every text format writes as they are.
	legacy bool
	// preamble is the HELP and TYPE lines of a family of typ in the text
	// format, written once (empty unless legacy and writeText's type).
	preamble string
}

// gather collects c and returns its metric families as a Registry holding
// only c would gather them: families sorted by name, metrics within one
// sorted by label values. Metrics that fail to write are left out and
// their errors returned, joined.
func (e *exposer) gather(c prometheus.Collector) ([]*dto.MetricFamily, error) {
	fams, err := e.collect(c)
	mfs := make([]*dto.MetricFamily, len(fams))
	for i, f := range fams {
		mfs[i] = f.mf
	}
	return mfs, err
}

// gatheredFamily is a gathered metric family, and whether its names are all legacy.
type gatheredFamily struct {
	mf     *dto.MetricFamily
	legacy bool
	// preamble is the family's HELP and TYPE lines in the text format,
	// when known from its descriptor; empty: writeText makes them.
	preamble string
}

// collect is gather, telling which families have legacy names only.
func (e *exposer) collect(c prometheus.Collector) ([]gatheredFamily, error) {
	metrics := e.metrics(c)
	defer func() {
		clear(metrics) // no metric kept alive by the pool
		e.lists.Put(&metrics)
	}()
	type entry struct {
		desc *prometheus.Desc
		fam  int
	}
	var (
		seen   []entry // a few dozen at most: a slice beats a map
		fams   []gatheredFamily
		errs   []error
		pbs    = make([]dto.Metric, len(metrics))          // one allocation for all
		mfs    = make([]dto.MetricFamily, 0, len(metrics)) // for all families
		famOf  = make([]int, len(metrics))                 // each metric's family, -1: left out
		counts []int
	)
	for i, m := range metrics {
		famOf[i] = -1
		pb := &pbs[i]
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
		fam := -1
		for _, s := range seen {
			if s.desc == d {
				fam = s.fam
				break
			}
		}
		if fam < 0 {
			head, err := e.head(m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for i, f := range fams { // another descriptor of the same name
				if f.mf.GetName() == head.name {
					fam = i
					fams[i].legacy = f.legacy && head.legacy
					break
				}
			}
			if fam >= 0 && fams[fam].mf.GetHelp() != head.help {
				errs = append(errs, fmt.Errorf("collected metric %s has help %q but should have %q", d, head.help, fams[fam].mf.GetHelp()))
				continue // as a registry does; the next metric of d asks again
			}
			if fam < 0 {
				fam = len(fams)
				t := head.typ
				if t == nil || *t != typ {
					t = typ.Enum()
				}
				mfs = append(mfs, dto.MetricFamily{Name: &head.name, Help: &head.help, Type: t, Unit: head.unit})
				f := gatheredFamily{mf: &mfs[len(mfs)-1], legacy: head.legacy}
				if t == head.typ {
					f.preamble = head.preamble
				}
				fams = append(fams, f)
				counts = append(counts, 0)
			}
			seen = append(seen, entry{d, fam})
		}
		if got := fams[fam].mf.GetType(); got != typ {
			errs = append(errs, fmt.Errorf("collected metric %s is a %s, its family a %s", d, typ, got))
			continue
		}
		famOf[i] = fam
		counts[fam]++
	}
	all := make([]*dto.Metric, 0, len(metrics)) // each family's metrics, a slice of one array
	for i, f := range fams {
		f.mf.Metric = all[len(all) : len(all) : len(all)+counts[i]]
		all = all[:len(all)+counts[i]]
	}
	for i, fam := range famOf {
		if fam >= 0 {
			fams[fam].mf.Metric = append(fams[fam].mf.Metric, &pbs[i])
		}
	}
	for _, f := range fams {
		mf := f.mf
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
	slices.SortFunc(fams, func(a, b gatheredFamily) int { return strings.Compare(a.mf.GetName(), b.mf.GetName()) })
	return fams, errors.Join(errs...)
}

// metrics runs c.Collect on the caller's goroutine into a pooled channel
// big enough for any probe, and returns what it sent, in order. Profiled,
// a goroutine per Collect (what a registry does) cost a wake-up of another
// thread per scrape. Should a collector ever send more than the channel
// holds, a drainer started after spillAfter takes the rest: slower, never
// stuck.
func (e *exposer) metrics(c prometheus.Collector) []prometheus.Metric {
	sl, _ := e.slots.Get().(*slot)
	if sl == nil {
		sl = newSlot()
	}
	completed := false
	defer func() {
		if completed {
			e.slots.Put(sl) // its channel empty again, its drainer stopped
			return
		}
		// Collect panicked (net/http recovers it): stop this slot's
		// drainer and drop the slot, so that nothing of it serves another
		// scrape.
		if !sl.drainer.Stop() {
			close(sl.quit)
			<-sl.done
		}
	}()
	var out []prometheus.Metric
	if p, ok := e.lists.Get().(*[]prometheus.Metric); ok {
		out = (*p)[:0]
	}
	sl.drainer.Reset(spillAfter)
	c.Collect(sl.ch)
	if !sl.drainer.Stop() {
		close(sl.quit)
		<-sl.done
		out = append(out, sl.spilled...)
		clear(sl.spilled)
		sl.spilled, sl.quit, sl.done = sl.spilled[:0], make(chan struct{}), make(chan struct{})
	}
	for len(sl.ch) > 0 {
		out = append(out, <-sl.ch)
	}
	completed = true
	return out
}

// slot is what one Collect sends into, reused: a channel, and a drainer
// that a timer starts should the channel fill up.
type slot struct {
	ch      chan prometheus.Metric
	drainer *time.Timer
	// quit tells a started drainer that Collect has returned; done says
	// it has finished; spilled holds what it took.
	quit, done chan struct{}
	spilled    []prometheus.Metric
}

func newSlot() *slot {
	sl := &slot{ch: make(chan prometheus.Metric, collectBuffer), quit: make(chan struct{}), done: make(chan struct{})}
	sl.drainer = time.AfterFunc(time.Hour, sl.drain)
	sl.drainer.Stop()
	return sl
}

// drain takes what Collect sends until Collect has returned.
func (sl *slot) drain() {
	defer close(sl.done)
	for {
		select {
		case m := <-sl.ch:
			sl.spilled = append(sl.spilled, m)
		case <-sl.quit:
			for len(sl.ch) > 0 {
				sl.spilled = append(sl.spilled, <-sl.ch)
			}
			return
		}
	}
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
	h := &familyHead{name: mfs[0].GetName(), help: mfs[0].GetHelp(), unit: mfs[0].Unit, typ: mfs[0].Type,
		legacy: model.LegacyValidation.IsValidMetricName(mfs[0].GetName())}
	for _, l := range mfs[0].Metric[0].Label { // a descriptor's metrics share label names
		h.legacy = h.legacy && model.LegacyValidation.IsValidMetricName(l.GetName())
	}
	if h.legacy {
		var buf bytes.Buffer
		if writePreamble(&buf, mfs[0]) {
			h.preamble = buf.String()
		}
	}
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

// serve answers a scrape of what self gathers and c collects (either may
// be nil) as promhttp.HandlerFor(prometheus.Gatherers{self, c}) would: in
// the format the scraper asks for (without OpenMetrics), gzipped when it
// asks for that and compress is set, honouring the name[] filter; gather
// errors are logged and what could be gathered is served, as
// promhttp.ContinueOnError does. The answer is buffered and sent with a
// Content-Length. Families of gauges, counters or untyped metrics with
// legacy names are written in the text formats here; the rest goes through
// expfmt. Both write the same bytes.
func (e *exposer) serve(w http.ResponseWriter, r *http.Request, self prometheus.Gatherer, c prometheus.Collector, logger log.Logger, compress bool) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	var (
		fams []gatheredFamily
		errs []error
	)
	if c != nil {
		var err error
		fams, err = e.collect(c)
		errs = append(errs, err)
	}
	if self != nil {
		mfs, err := self.Gather()
		errs = append(errs, err)
		var clash bool
		if fams, clash = merge(fams, mfs); clash {
			// A family both in self and c: let promhttp merge them.
			Exposition(prometheus.Gatherers{self, e.gatherer(c)}, logger, compress).ServeHTTP(w, r)
			return
		}
	}
	if err := errors.Join(errs...); err != nil {
		level.Error(logger).Log("msg", "error gathering metrics: "+err.Error())
		if len(fams) == 0 {
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	format, text := e.negotiate(r.Header)
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
	if r.URL != nil && r.URL.RawQuery != "" { // parse only when there is a query: a probe's has target= alone
		filter = r.URL.Query()["name[]"]
	}
	var enc expfmt.Encoder
	for _, f := range fams {
		if filter != nil && !slices.Contains(filter, f.mf.GetName()) {
			continue
		}
		if text && f.legacy && writeText(buf, f) {
			continue
		}
		if enc == nil {
			enc = expfmt.NewEncoder(buf, format)
		}
		if err := enc.Encode(f.mf); err != nil {
			level.Error(logger).Log("msg", "error encoding metric family: "+err.Error())
		}
	}
	if enc == nil && !text {
		enc = expfmt.NewEncoder(buf, format) // its Close may write a trailer
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		if err := closer.Close(); err != nil {
			level.Error(logger).Log("msg", "error encoding metric family: "+err.Error())
		}
	}
	h := w.Header()
	h.Add("Vary", "Accept")
	body := buf.Bytes()
	if compress {
		h.Add("Vary", "Accept-Encoding")
		if e.encoding(r.Header) == "gzip" {
			zipped, _ := e.buffers.Get().(*bytes.Buffer)
			if zipped == nil {
				zipped = &bytes.Buffer{}
			}
			defer func() {
				if zipped.Cap() <= maxPooledBuffer {
					zipped.Reset()
					e.buffers.Put(zipped)
				}
			}()
			zipped.Reset()
			gz, _ := e.gzips.Get().(*gzip.Writer)
			if gz == nil {
				gz = gzip.NewWriter(zipped)
			} else {
				gz.Reset(zipped)
			}
			_, _ = gz.Write(body) // a bytes.Buffer takes everything
			_ = gz.Close()
			e.gzips.Put(gz)
			body = zipped.Bytes()
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Type", string(format))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// encoding is the content encoding promhttp would choose for a request
// with these headers, among identity and gzip, learned from promhttp
// itself once per Accept-Encoding header and remembered.
func (e *exposer) encoding(h http.Header) string {
	values := h.Values("Accept-Encoding")
	key := strings.Join(values, "\n")
	if v, ok := e.encodings.Load(key); ok {
		return v.(string)
	}
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Header: http.Header{"Accept-Encoding": values}}
	rec := headers{}
	promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}).ServeHTTP(rec, req)
	enc := rec.Header().Get("Content-Encoding")
	if enc == "" {
		enc = "identity"
	}
	if e.encodingCount.Add(1) > maxFormats {
		e.encodings.Clear()
		e.encodingCount.Store(1)
	}
	e.encodings.Store(key, enc)
	return enc
}

// headers is a ResponseWriter that keeps only the headers.
type headers http.Header

func (h headers) Header() http.Header         { return http.Header(h) }
func (h headers) Write(p []byte) (int, error) { return len(p), nil }
func (h headers) WriteHeader(int)             {}

// merge adds gathered families, sorted by name, to collected ones, keeping
// the order; clash says a name is in both.
func merge(collected []gatheredFamily, gathered []*dto.MetricFamily) (_ []gatheredFamily, clash bool) {
	out := make([]gatheredFamily, 0, len(collected)+len(gathered))
	i := 0
	for _, mf := range gathered {
		for i < len(collected) && collected[i].mf.GetName() < mf.GetName() {
			out = append(out, collected[i])
			i++
		}
		if i < len(collected) && collected[i].mf.GetName() == mf.GetName() {
			return nil, true
		}
		out = append(out, gatheredFamily{mf: mf, legacy: legacyNames(mf)})
	}
	return append(out, collected[i:]...), false
}

// legacyNames says whether a family's name and label names are all legacy.
func legacyNames(mf *dto.MetricFamily) bool {
	if !model.LegacyValidation.IsValidMetricName(mf.GetName()) {
		return false
	}
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if !model.LegacyValidation.IsValidMetricName(l.GetName()) {
				return false
			}
		}
	}
	return true
}

// negotiate is expfmt.NegotiateAccept with promhttp's default formats,
// and whether that format is a text one, remembered per Accept header: a
// scraper sends the same one every time.
func (e *exposer) negotiate(h http.Header) (expfmt.Format, bool) {
	accept := h.Get("Accept")
	if f, ok := e.formats.Load(accept); ok {
		nf := f.(negotiated)
		return nf.format, nf.text
	}
	f := expfmt.NegotiateAccept(h, expfmt.DefaultAcceptedFormats()...)
	nf := negotiated{f, f.FormatType() == expfmt.TypeTextPlain}
	if len(h.Values("Accept")) <= 1 { // the key must say everything negotiation read
		if e.formatCount.Add(1) > maxFormats {
			e.formats.Clear()
			e.formatCount.Store(1)
		}
		e.formats.Store(accept, nf)
	}
	return nf.format, nf.text
}

// negotiated is a negotiated format and whether it is a text one.
type negotiated struct {
	format expfmt.Format
	text   bool
}

// writeText writes a family of gauges, counters or untyped metrics whose
// names are legacy in the text format, as expfmt.MetricFamilyToText does,
// and says whether it did (other types are left to expfmt).
func writeText(buf *bytes.Buffer, f gatheredFamily) bool {
	mf := f.mf
	typ := mf.GetType()
	if len(mf.Metric) == 0 {
		return false // expfmt reports it
	}
	if f.preamble != "" {
		buf.WriteString(f.preamble)
	} else if !writePreamble(buf, mf) {
		return false
	}
	name := mf.GetName()
	var num [32]byte
	for _, m := range mf.Metric {
		buf.WriteString(name)
		if len(m.Label) > 0 {
			sep := byte('{')
			for _, l := range m.Label {
				buf.WriteByte(sep)
				buf.WriteString(l.GetName())
				buf.WriteString(`="`)
				writeEscaped(buf, l.GetValue(), true)
				buf.WriteByte('"')
				sep = ','
			}
			buf.WriteByte('}')
		}
		buf.WriteByte(' ')
		var v float64
		switch typ {
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		default:
			v = m.GetUntyped().GetValue()
		}
		switch {
		case v == 1:
			buf.WriteByte('1')
		case v == 0:
			buf.WriteByte('0')
		case v == -1:
			buf.WriteString("-1")
		case math.IsNaN(v):
			buf.WriteString("NaN")
		case math.IsInf(v, +1):
			buf.WriteString("+Inf")
		case math.IsInf(v, -1):
			buf.WriteString("-Inf")
		default:
			buf.Write(strconv.AppendFloat(num[:0], v, 'g', -1, 64))
		}
		if m.TimestampMs != nil {
			buf.WriteByte(' ')
			buf.Write(strconv.AppendInt(num[:0], m.GetTimestampMs(), 10))
		}
		buf.WriteByte('\n')
	}
	return true
}

// writePreamble writes the HELP and TYPE lines of a family of gauges,
// counters or untyped metrics, and says whether it did.
func writePreamble(buf *bytes.Buffer, mf *dto.MetricFamily) bool {
	var word string
	switch mf.GetType() {
	case dto.MetricType_GAUGE:
		word = " gauge\n"
	case dto.MetricType_COUNTER:
		word = " counter\n"
	case dto.MetricType_UNTYPED:
		word = " untyped\n"
	default:
		return false
	}
	name := mf.GetName()
	if mf.Help != nil {
		buf.WriteString("# HELP ")
		buf.WriteString(name)
		buf.WriteByte(' ')
		writeEscaped(buf, mf.GetHelp(), false)
		buf.WriteByte('\n')
	}
	buf.WriteString("# TYPE ")
	buf.WriteString(name)
	buf.WriteString(word)
	return true
}

// writeEscaped escapes a HELP text (backslash, newline) or, quoted, a
// label value (and double quote), as the text format asks.
func writeEscaped(buf *bytes.Buffer, s string, quoted bool) {
	if !strings.ContainsAny(s, "\\\n\"") {
		buf.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '"' && quoted:
			buf.WriteString(`\"`)
		default:
			buf.WriteByte(c)
		}
	}
}

// gatherer is a prometheus.Gatherer of c, gathered as gather does.
func (e *exposer) gatherer(c prometheus.Collector) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return e.gather(c) })
}
