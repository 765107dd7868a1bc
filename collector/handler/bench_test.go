package handler

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// prometheus3Accept is the Accept header Prometheus 3 sends by default
// (the pinned v3.16, with UTF-8 names): e2e's prometheusAccept is the same
// string, and TestBenchmarksSendPrometheusAcceptHeader checks both against
// what the pinned Prometheus really sends.
const prometheus3Accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.7,application/openmetrics-text;version=0.0.1;q=0.6,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.3"

// benchSidecar is a sidecar with one default target served by a local
// server answering a real smithy sample, and a request for path carrying
// Prometheus 3's scrape headers.
func benchSidecar(b *testing.B, self prometheus.Gatherer, path string) (*Sidecar, *http.Request) {
	b.Helper()
	body, err := os.ReadFile("../../dispatch/smithy/testdata/samples/stuck.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	b.Cleanup(srv.Close)
	targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 5 * time.Second})
	if err := targets.Apply(sidecar.SingleTarget(srv.URL)); err != nil {
		b.Fatal(err)
	}
	side := &Sidecar{Targets: targets, Self: self, Default: sidecar.DefaultTargetName, TimeoutOffset: 500 * time.Millisecond}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", prometheus3Accept)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	return side, req
}

// serveBench runs h on req per iteration and checks the answer.
func serveBench(b *testing.B, h http.HandlerFunc, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		var w countingWriter
		h(&w, req)
		if w.code != 0 && w.code != http.StatusOK || w.n == 0 {
			b.Fatalf("answered %d with %d bytes", w.code, w.n)
		}
	}
}

// BenchmarkProbeHandler is one /probe request end to end in process, as
// Prometheus 3 sends it: the status request to a local server holding a
// real smithy sample, the verdict, and the answer written to the client.
// The local server and the client share this process: for CPU per scrape
// of the exporter alone, see BenchmarkCompareJSONExporter.
func BenchmarkProbeHandler(b *testing.B) {
	side, req := benchSidecar(b, prometheus.NewRegistry(), "/probe?target=default")
	serveBench(b, side.Probe, req)
}

// BenchmarkProbeHandlerGzip is BenchmarkProbeHandler with the answer
// gzipped, as the scraper asks: what /probe would cost with promhttp's
// default compression, which it disables (see Sidecar.Probe).
func BenchmarkProbeHandlerGzip(b *testing.B) {
	side, req := benchSidecar(b, prometheus.NewRegistry(), "/probe?target=default")
	serveBench(b, func(w http.ResponseWriter, r *http.Request) {
		t, _ := side.Targets.Get(side.Default)
		Exposition(side.probe(r, t), nil, true).ServeHTTP(w, r)
	}, req)
}

// BenchmarkMetricsHandler is one /metrics request of a one-target sidecar:
// the default target probed as above, and the exporter's own metrics
// gathered with it, without the Go and process collectors
// (--web.disable-exporter-metrics) and with them.
func BenchmarkMetricsHandler(b *testing.B) {
	b.Run("self=build", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "dispatch_exporter_build_info", Help: "Build info.", ConstLabels: prometheus.Labels{"version": "bench"}}))
		side, req := benchSidecar(b, reg, "/metrics")
		serveBench(b, side.Metrics, req)
	})
	b.Run("self=go,process", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		side, req := benchSidecar(b, reg, "/metrics")
		serveBench(b, side.Metrics, req)
	})
}

// countingWriter is a ResponseWriter that keeps the status code and the
// body's length, so a benchmark checks every answer without keeping it.
type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (d *countingWriter) Header() http.Header {
	if d.header == nil {
		d.header = http.Header{}
	}
	return d.header
}
func (d *countingWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *countingWriter) WriteHeader(code int)        { d.code = code }
