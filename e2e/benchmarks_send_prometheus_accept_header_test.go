package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchmarksSendPrometheusAcceptHeader: the Accept and Accept-Encoding
// headers the benchmarks send as "Prometheus 3's" (e2e's prometheusAccept,
// collector/handler's prometheus3Accept) are what the pinned Prometheus
// sends when it scrapes with its defaults, so the benchmarks measure the
// format production negotiates.
func TestBenchmarksSendPrometheusAcceptHeader(t *testing.T) {
	t.Parallel()
	bin := os.Getenv("PROMETHEUS")
	if bin == "" {
		t.Skip("PROMETHEUS not set: `make test` installs it and runs this")
	}
	got := make(chan http.Header, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "up_probe 1")
	}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"global: {scrape_interval: 1s}\nscrape_configs: [{job_name: accept, static_configs: [{targets: ['%s']}]}]\n",
		target.Listener.Addr())), 0o644))
	startProc(t, "prometheus", bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+freeAddr(t))

	var h http.Header
	select {
	case h = <-got:
	case <-time.After(60 * time.Second):
		t.Fatal("Prometheus never scraped the target")
	}
	require.Equal(t, prometheusAccept, h.Get("Accept"), "e2e's prometheusAccept")
	require.Equal(t, "gzip", h.Get("Accept-Encoding"))
	handlerBench, err := os.ReadFile(filepath.Join(moduleRoot(t), "collector", "handler", "bench_test.go"))
	require.NoError(t, err)
	require.Contains(t, string(handlerBench), fmt.Sprintf("const prometheus3Accept = %q", h.Get("Accept")),
		"collector/handler's prometheus3Accept")
}
