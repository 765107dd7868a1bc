package handler

// What a scraper receives from /probe and /metrics, now that promhttp
// serves them: every format a scraper may ask for parses to the same
// families, the name[] filter and HEAD work, a probe goes out uncompressed
// and /metrics gzipped when asked, concurrent scrapes each get a whole
// answer, and a label value that is not valid UTF-8 cannot break a scrape.

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// scrape serves req with h and returns the answer's families, decoded in
// the format its Content-Type names (gunzipped first when it says so),
// with the raw body.
func scrape(t *testing.T, h http.Handler, req *http.Request) (map[string]*dto.MetricFamily, *httptest.ResponseRecorder, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		body, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(rec.Header()))
	fams := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s:\n%s", rec.Header().Get("Content-Type"), body)
		fams[mf.GetName()] = &mf
	}
	require.NotEmpty(t, fams)
	return fams, rec, body
}

// shapeOf is each family's type and its series' label values: what a
// scraper stores, less the values that move between probes.
func shapeOf(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for name, mf := range fams {
		for _, m := range mf.Metric {
			s := name + " " + mf.GetType().String()
			for _, l := range m.Label {
				s += " " + l.GetName() + "=" + l.GetValue()
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func gaugeOf(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	require.Contains(t, fams, name)
	require.Len(t, fams[name].Metric, 1)
	require.Equal(t, dto.MetricType_GAUGE, fams[name].GetType(), "%s is a gauge", name)
	return fams[name].Metric[0].GetGauge().GetValue()
}

func request(url string, header ...string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

// TestProbeParsesInEveryFormat: whatever a scraper asks for (nothing,
// Prometheus 3's default header, text 0.0.4 or 1.0.0 with any escaping,
// protobuf, OpenMetrics only, two Accept lines), the answer is in a
// format it names and decodes to the same families and series.
func TestProbeParsesInEveryFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	f.daemon.Answer(status(0, at(-time.Second)))
	probe := http.HandlerFunc(f.side.Probe)
	want, rec, _ := scrape(t, probe, request("/probe?target=a"))
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", rec.Header().Get("Content-Type"))
	require.Contains(t, want, "dispatch_status_request_failures_total")
	assert.Len(t, want["dispatch_status_request_failures_total"].Metric, family.NumReasons)
	for _, accept := range [][]string{
		{prometheus3Accept},
		{"text/plain;version=0.0.4"},
		{"text/plain;version=1.0.0;escaping=allow-utf-8"},
		{"text/plain;version=1.0.0;escaping=underscores"},
		{"text/plain;version=1.0.0;escaping=values"},
		{"text/plain;version=1.0.0;escaping=dots"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		{"application/openmetrics-text;version=1.0.0"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "text/plain"},
	} {
		var header []string
		for _, a := range accept {
			header = append(header, "Accept", a)
		}
		got, rec, _ := scrape(t, probe, request("/probe?target=a", header...))
		assert.Equal(t, shapeOf(want), shapeOf(got), "%s: %s", accept, rec.Header().Get("Content-Type"))
		assert.Equal(t, 1.0, gaugeOf(t, got, "dispatch_up"), accept)
		assert.Equal(t, []string{"Accept"}, rec.Header().Values("Vary"), "a probe offers no compression")
	}
}

// TestProbeNameFilter: name[] keeps the families named, as promhttp
// filters them.
func TestProbeNameFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	f.daemon.Answer(status(0, at(-time.Second)))
	got, _, body := scrape(t, http.HandlerFunc(f.side.Probe), request("/probe?target=a&name[]=dispatch_up&name[]=dispatch_poll_stale"))
	assert.Len(t, got, 2, "%s", body)
	assert.Equal(t, 1.0, gaugeOf(t, got, "dispatch_up"))
	assert.Equal(t, 0.0, gaugeOf(t, got, "dispatch_poll_stale"))
}

// TestProbeHead: a HEAD request is answered 200 with the headers of a GET
// and no body.
func TestProbeHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	f.daemon.Answer(status(0, at(-time.Second)))
	srv := httptest.NewServer(http.HandlerFunc(f.side.Probe))
	defer srv.Close()
	resp, err := http.Head(srv.URL + "/probe?target=a")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4"), resp.Header.Get("Content-Type"))
	assert.Empty(t, body)
}

// TestProbeUncompressedMetricsGzipped: asked for gzip, as Prometheus asks,
// /probe answers uncompressed (gzip would cost about a third of a probe's
// CPU to save 3 KB: BenchmarkProbeHandler) and /metrics gzipped.
func TestProbeUncompressedMetricsGzipped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	_, rec, _ := scrape(t, http.HandlerFunc(f.side.Probe), request("/probe", "Accept-Encoding", "gzip"))
	assert.Empty(t, rec.Header().Get("Content-Encoding"), "/probe")
	fams, rec, _ := scrape(t, http.HandlerFunc(f.side.Metrics), request("/metrics", "Accept-Encoding", "gzip", "Accept", prometheus3Accept))
	assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"), "/metrics")
	assert.Equal(t, 1.0, gaugeOf(t, fams, "dispatch_up"))
	assert.Contains(t, fams, "self_metric")
}

// TestConcurrentScrapesAreWhole: many scrapes of /probe and /metrics at
// once (run with -race) each get every family of their own answer.
func TestConcurrentScrapesAreWhole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	want, _, _ := scrape(t, http.HandlerFunc(f.side.Probe), request("/probe"))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for k := range 20 {
				h, url := http.HandlerFunc(f.side.Probe), "/probe"
				if (w+k)%2 == 1 {
					h, url = f.side.Metrics, "/metrics"
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, request(url, "Accept", prometheus3Accept))
				p := expfmt.NewTextParser(model.LegacyValidation)
				got, err := p.TextToMetricFamilies(rec.Body)
				if !assert.NoError(t, err) {
					return
				}
				for name := range want {
					assert.Contains(t, got, name, url)
				}
				if url == "/metrics" {
					assert.Contains(t, got, "self_metric")
				}
			}
		})
	}
	wg.Wait()
}

// TestLabelNotUTF8StillParses: a loop whose name is not valid UTF-8 (its
// daemon's choice), exported by a registry's collector and by a sample's
// own gatherer side by side, gives an answer that is valid UTF-8, parses,
// and holds both loops' series with the invalid bytes replaced; nothing is
// dropped or logged. Written by hand, such a value once made Prometheus
// reject the whole scrape.
func TestLabelNotUTF8StillParses(t *testing.T) {
	t.Parallel()
	set := family.NewSet()
	sample := func(loop string) family.Sample {
		return family.Sample{Labels: family.NewLabels(loop), Assessment: dispatch.Decide(dispatch.Look{}),
			Stats: &dispatch.CycleStats{Count: 1, SumSeconds: 0.5, Buckets: map[float64]uint64{1: 1}}}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectorOf{set, sample("registry\xff")})
	logs := &dispatchtest.Logs{}
	h := Exposition(prometheus.Gatherers{reg, sample("gatherer\xfe\xfd")}, logs.Logger(), true)
	for _, accept := range []string{"", prometheus3Accept, "text/plain;version=1.0.0;escaping=allow-utf-8"} {
		fams, _, body := scrape(t, h, request("/metrics", "Accept", accept))
		assert.True(t, utf8.Valid(body), accept)
		var loops []string
		for _, m := range fams["dispatch_up"].GetMetric() {
			loops = append(loops, m.Label[0].GetValue())
		}
		assert.Equal(t, []string{"gatherer\uFFFD", "registry\uFFFD"}, loops, accept)
		assert.Len(t, fams["dispatch_poll_cycles_total"].GetMetric(), 6, accept)
		assert.Len(t, fams["dispatch_poll_cycle_duration_seconds"].GetMetric(), 2, accept)
	}
	assert.Empty(t, logs.String(), "nothing refused")
}
