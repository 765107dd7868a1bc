package handler

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/collector"
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
	targets := collector.NewTargets(collector.TargetDefaults{Timeout: 5 * time.Second})
	if err := targets.Apply(collector.SingleTarget(srv.URL)); err != nil {
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
