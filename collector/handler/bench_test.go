package handler

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// BenchmarkProbeHandler is one /probe request end to end in process: the
// status request to a local server holding a real smithy sample, the
// verdict, and the exposition written to the client. The request says
// Accept-Encoding: gzip, as Prometheus does; /probe answers uncompressed
// all the same (see Sidecar.probe), so no gzip is measured here. The local
// server and the client share this process: for CPU per scrape of the
// exporter alone, see BenchmarkCompareJSONExporter.
func BenchmarkProbeHandler(b *testing.B) {
	body, err := os.ReadFile("../../dispatch/smithy/testdata/samples/stuck.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 5 * time.Second})
	if err := targets.Apply(sidecar.SingleTarget(srv.URL)); err != nil {
		b.Fatal(err)
	}
	side := &Sidecar{Targets: targets, Self: prometheus.NewRegistry(), TimeoutOffset: 500 * time.Millisecond}
	req := httptest.NewRequest(http.MethodGet, "/probe?target=default", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		side.Probe(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkProbeExposition is the answer to one probe alone, its status
// request done: collect the probe's metrics, sort them and write the text
// format with a Content-Length. Registering the probe in a fresh registry
// and serving it with promhttp, as /probe did before, is the baseline.
func BenchmarkProbeExposition(b *testing.B) {
	body, err := os.ReadFile("../../dispatch/smithy/testdata/samples/stuck.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 5 * time.Second})
	if err := targets.Apply(sidecar.SingleTarget(srv.URL)); err != nil {
		b.Fatal(err)
	}
	t, _ := targets.Get(sidecar.DefaultTargetName)
	probe := t.Probe(b.Context())
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	b.Run("exposer", func(b *testing.B) {
		var e exposer
		b.ReportAllocs()
		for b.Loop() {
			e.serve(discard{}, req, nil, probe, nil, false)
		}
	})
	b.Run("registry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reg := prometheus.NewRegistry()
			reg.MustRegister(probe)
			promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true}).ServeHTTP(discard{}, req)
		}
	})
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
