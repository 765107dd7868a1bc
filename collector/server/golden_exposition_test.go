package server

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// shape keeps the dispatch families of an exposition with their values
// blanked: HELP, TYPE and every series name with its labels. What an
// operator's dashboards and alerts depend on, minus what varies.
func shape(exposition string) string {
	value := regexp.MustCompile(` [^ ]+$`)
	var out []string
	for _, line := range strings.Split(exposition, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if !strings.HasPrefix(name, "dispatch_") || strings.HasPrefix(name, "dispatch_exporter_build_info") {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			line = value.ReplaceAllString(line, " _")
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// checkGolden compares got with a golden file (go test -update rewrites it)
// and has promtool lint the whole exposition.
func checkGolden(t *testing.T, name, exposition string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(shape(exposition)), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update once to create it")
	assert.Equal(t, string(want), shape(exposition), "metric families changed: review, then go test -update")
	known := family.SeriesNames()
	for _, line := range strings.Split(shape(exposition), "\n") {
		if name, _, _ := strings.Cut(line, "{"); line != "" && !strings.HasPrefix(line, "#") {
			name, _, _ = strings.Cut(name, " ")
			assert.True(t, known[name], "collector.SeriesNames lists %s", name)
		}
	}

	t.Run("promtool check metrics "+name, func(t *testing.T) {
		cmd := exec.Command(dispatchtest.Tool(t, "PROMTOOL"), "check", "metrics")
		cmd.Stdin = strings.NewReader(exposition)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "promtool check metrics:\n%s", out)
		assert.Empty(t, strings.TrimSpace(string(out)), "promtool finds nothing to fix")
	})
}

// TestGoldenExposition scrapes the demo's /metrics and a sidecar's /metrics
// pointed at the demo, in a state where every family is present (a cycle
// done, the queue known, a rate limit field), and checks both.
func TestGoldenExposition(t *testing.T) {
	t.Parallel()
	d := startExporter(t, "--demo", "--demo.poll-interval=20ms")
	var demo string
	require.Eventually(t, func() bool {
		_, demo = httpGet(t, d.url("/metrics"))
		return strings.Contains(demo, "dispatch_poll_last_completed_seconds{")
	}, 10*time.Second, 10*time.Millisecond)
	checkGolden(t, "demo.prom", demo)

	s := startExporter(t, "--target.url="+d.url("/api/daemon/status"))
	_, sidecar := httpGet(t, s.url("/metrics"))
	checkGolden(t, "sidecar.prom", sidecar)
}
