package handler

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestExpositionMatchesTheRegistry: a probe's answer, written without a
// registry, is byte for byte what promhttp serves from a registry holding
// the same probe, in every format a scraper may ask for and in every state
// of the target (each smithy sample, a decode failure, a timeout).
func TestExpositionMatchesTheRegistry(t *testing.T) {
	t.Parallel()
	samples, err := filepath.Glob("../../dispatch/smithy/testdata/samples/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	bodies := map[string]string{"garbage": "not json", "hang": ""}
	for _, s := range samples {
		b, err := os.ReadFile(s)
		require.NoError(t, err)
		bodies[filepath.Base(s)] = string(b)
	}
	accepts := map[string]string{
		"none":         "",
		"prometheus 3": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		"protobuf":     "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
		"text 0.0.4":   "text/plain;version=0.0.4",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			daemon := dispatchtest.NewServer(t, body)
			if name == "hang" {
				daemon.Hang()
			}
			targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 100 * time.Millisecond})
			require.NoError(t, targets.Apply(sidecar.SingleTarget(daemon.URL)))
			tgt, ok := targets.Get(sidecar.DefaultTargetName)
			require.True(t, ok)
			for range 2 { // a second probe: counters and history moved
				probe := tgt.Probe(context.Background())
				reg := prometheus.NewRegistry()
				reg.MustRegister(probe)
				want := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true})
				var e exposer
				for accept, header := range accepts {
					req := httptest.NewRequest(http.MethodGet, "/probe", nil)
					if header != "" {
						req.Header.Set("Accept", header)
					}
					wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
					want.ServeHTTP(wantRec, req)
					e.serve(gotRec, req, nil, probe, nil, false)
					require.Equal(t, 200, gotRec.Code, accept)
					assert.Equal(t, wantRec.Header().Get("Content-Type"), gotRec.Header().Get("Content-Type"), accept)
					assert.Equal(t, wantRec.Body.String(), gotRec.Body.String(), accept)
					assert.Equal(t, gotRec.Body.Len(), mustAtoi(t, gotRec.Header().Get("Content-Length")), "Content-Length, %s", accept)
				}
				req := httptest.NewRequest(http.MethodGet, "/probe?name[]=dispatch_up", nil)
				wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
				want.ServeHTTP(wantRec, req)
				e.serve(gotRec, req, nil, probe, nil, false)
				assert.Equal(t, wantRec.Body.String(), gotRec.Body.String(), "name[] filter")
				assert.True(t, strings.HasPrefix(gotRec.Body.String(), "# HELP dispatch_up "), gotRec.Body.String())
			}
		})
	}
}

// TestExpositionMatchesTheRegistryEverywhere: the same for metrics a probe
// does not make today, so the writer stays right whatever Probe becomes:
// histograms, summaries, untyped, timestamps, special values, escapes in
// help and label values, constant labels, a UTF-8 name.
func TestExpositionMatchesTheRegistryEverywhere(t *testing.T) {
	t.Parallel()
	gauge := prometheus.NewDesc("a_gauge", "Help with \\ a backslash,\na newline and \"quotes\".", []string{"z", "a"}, prometheus.Labels{"const": "c"})
	counter := prometheus.NewDesc("a_total", "A counter.", nil, nil)
	untyped := prometheus.NewDesc("an_untyped", "", []string{"l"}, nil)
	hist := prometheus.NewDesc("a_histogram_seconds", "A histogram.", []string{"l"}, nil)
	summary := prometheus.NewDesc("a_summary", "A summary.", nil, nil)
	utf8 := prometheus.NewDesc("odd.name with spaces", "UTF-8.", []string{"label.with.dots"}, nil)
	c := collectorFunc(func(ch chan<- prometheus.Metric) {
		for i, v := range []float64{1, 0, -1, 0.1, 1e21, -3.5e-9, math.NaN(), math.Inf(1), math.Inf(-1), 123456789} {
			ch <- prometheus.MustNewConstMetric(gauge, prometheus.GaugeValue, v, fmt.Sprintf("v%02d", i), "x\\y\n\"z\"")
		}
		ch <- prometheus.NewMetricWithTimestamp(time.UnixMilli(1764190800123), prometheus.MustNewConstMetric(counter, prometheus.CounterValue, 42))
		ch <- prometheus.MustNewConstMetric(untyped, prometheus.UntypedValue, 7, "é")
		ch <- prometheus.MustNewConstMetric(untyped, prometheus.UntypedValue, 8, "a")
		ch <- prometheus.MustNewConstHistogram(hist, 3, 1.5, map[float64]uint64{0.1: 1, 1: 2, 10: 3}, "b")
		ch <- prometheus.MustNewConstHistogram(hist, 0, 0, map[float64]uint64{0.1: 0}, "a")
		ch <- prometheus.MustNewConstSummary(summary, 2, 3, map[float64]float64{0.5: 1, 0.99: 2})
		ch <- prometheus.MustNewConstMetric(utf8, prometheus.GaugeValue, 1, "v")
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(describedBy{c, []*prometheus.Desc{gauge, counter, untyped, hist, summary, utf8}})
	want := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true})
	var e exposer
	for _, accept := range []string{"", "text/plain;version=0.0.4", "text/plain;version=1.0.0;escaping=allow-utf-8",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"} {
		req := httptest.NewRequest(http.MethodGet, "/probe", nil)
		req.Header.Set("Accept", accept)
		wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
		want.ServeHTTP(wantRec, req)
		e.serve(gotRec, req, nil, c, nil, false)
		assert.Equal(t, wantRec.Header().Get("Content-Type"), gotRec.Header().Get("Content-Type"), accept)
		assert.Equal(t, wantRec.Body.String(), gotRec.Body.String(), accept)
		assert.Contains(t, gotRec.Body.String(), "a_histogram_seconds", accept)
	}
}

// describedBy is a collector with its descriptors listed, for a registry.
type describedBy struct {
	prometheus.Collector
	descs []*prometheus.Desc
}

func (d describedBy) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range d.descs {
		ch <- x
	}
}

// TestMetricsMatchesPromhttp: /metrics (the exporter's own registry and
// the default target's probe) serves what promhttp served from both
// gathered together, with the same content encoding for every
// Accept-Encoding, and a Content-Length.
func TestMetricsMatchesPromhttp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	tgt, ok := f.side.Targets.Get(sidecar.DefaultTargetName)
	require.True(t, ok)
	probe := tgt.Probe(context.Background())
	reg := prometheus.NewRegistry()
	reg.MustRegister(probe)
	want := Exposition(prometheus.Gatherers{f.side.Self, reg}, nil, true)
	for _, ae := range []string{"", "gzip", "gzip, deflate, br", "identity", "gzip;q=0, identity", "br", "*", "gzip;q=0.5, identity;q=0.8"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		wantRec, gotRec := httptest.NewRecorder(), httptest.NewRecorder()
		want.ServeHTTP(wantRec, req)
		f.side.exposer.serve(gotRec, req, f.side.Self, probe, nil, true)
		require.Equal(t, 200, gotRec.Code, ae)
		assert.Equal(t, wantRec.Header().Get("Content-Encoding"), gotRec.Header().Get("Content-Encoding"), ae)
		assert.Equal(t, wantRec.Header().Get("Content-Type"), gotRec.Header().Get("Content-Type"), ae)
		assert.Equal(t, wantRec.Header().Values("Vary"), gotRec.Header().Values("Vary"), ae)
		assert.Equal(t, gotRec.Body.Len(), mustAtoi(t, gotRec.Header().Get("Content-Length")), ae)
		assert.Equal(t, unzip(t, wantRec), unzip(t, gotRec), ae)
		assert.Contains(t, unzip(t, gotRec), "self_metric 0\n", ae)
		assert.Contains(t, unzip(t, gotRec), `dispatch_up{loop="dispatch"} 1`, ae)
	}
}

// TestMetricsWithAFamilyInBoth: a family the exporter's registry and the
// probe both hold is merged, as promhttp merges it.
func TestMetricsWithAFamilyInBoth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.daemon.Answer(status(0, at(-time.Second)))
	self := prometheus.NewRegistry()
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dispatch_up",
		Help: "1 when the loop's state could be read: always 1 in process; for a sidecar, 1 only when the status request of this scrape returned a usable status."}, []string{"loop"})
	up.WithLabelValues("other").Set(1)
	self.MustRegister(up)
	tgt, _ := f.side.Targets.Get(sidecar.DefaultTargetName)
	rec := httptest.NewRecorder()
	f.side.exposer.serve(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil), self, tgt.Probe(context.Background()), nil, true)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, 1, strings.Count(rec.Body.String(), "# TYPE dispatch_up gauge"), rec.Body.String())
	assert.Contains(t, rec.Body.String(), "dispatch_up{loop=\"dispatch\"} 1\ndispatch_up{loop=\"other\"} 1\n")
}

func unzip(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if rec.Header().Get("Content-Encoding") != "gzip" {
		return rec.Body.String()
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}

// TestExpositionReportsBadMetrics: a duplicate series or a metric that
// cannot be written is left out and logged, and the rest is served, as
// promhttp with ContinueOnError does.
func TestExpositionReportsBadMetrics(t *testing.T) {
	t.Parallel()
	desc := prometheus.NewDesc("x", "An x.", []string{"l"}, nil)
	other := prometheus.NewDesc("x", "Another help.", []string{"l"}, nil)
	c := collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 2, "b")
		ch <- prometheus.MustNewConstMetric(other, prometheus.GaugeValue, 4, "c")
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1, "a")
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 3, "a")
		ch <- prometheus.NewInvalidMetric(desc, assert.AnError)
	})
	var e exposer
	mfs, err := e.gather(c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "same name and label values")
	assert.Contains(t, err.Error(), `has help "Another help."`)
	assert.ErrorIs(t, err, assert.AnError)
	require.Len(t, mfs, 1)
	require.Len(t, mfs[0].Metric, 2)
	assert.Equal(t, 1.0, mfs[0].Metric[0].GetGauge().GetValue(), "sorted by label, the first of the duplicates kept")
	assert.Equal(t, 2.0, mfs[0].Metric[1].GetGauge().GetValue())

	logs := &dispatchtest.Logs{}
	rec := httptest.NewRecorder()
	e.serve(rec, httptest.NewRequest(http.MethodGet, "/probe", nil), nil, c, logs.Logger(), false)
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "# HELP x An x.\n# TYPE x gauge\nx{l=\"a\"} 1\nx{l=\"b\"} 2\n", rec.Body.String())
	assert.Equal(t, 1, logs.Count("error gathering metrics"), logs.String())
}

// TestExpositionOfMoreMetricsThanItsBuffer: a collector that sends more
// metrics than the collect buffer holds is drained from another goroutine
// and served whole, in order, every time.
func TestExpositionOfMoreMetricsThanItsBuffer(t *testing.T) {
	t.Parallel()
	desc := prometheus.NewDesc("many", "Many.", []string{"i"}, nil)
	const n = 3*collectBuffer + 7
	c := collectorFunc(func(ch chan<- prometheus.Metric) {
		for i := range n {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(i), fmt.Sprintf("%04d", i))
		}
	})
	var e exposer
	for range 3 {
		mfs, err := e.gather(c)
		require.NoError(t, err)
		require.Len(t, mfs, 1)
		require.Len(t, mfs[0].Metric, n)
		for i, m := range mfs[0].Metric {
			require.Equal(t, float64(i), m.GetGauge().GetValue())
		}
	}
	small, err := e.gather(collectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, 1, "x")
	}))
	require.NoError(t, err)
	require.Len(t, small[0].Metric, 1, "the pooled channel came back empty")
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9', "not a number: %q", s)
		n = n*10 + int(c-'0')
	}
	return n
}
