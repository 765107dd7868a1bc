package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestDisableExporterMetrics: --web.disable-exporter-metrics drops the
// exporter's own go_* and process_* families from /metrics and keeps the
// daemon's, as node_exporter's flag of that name does.
func TestDisableExporterMetrics(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("..", "..", "dispatch", "smithy", "testdata", "samples", "stuck.json"))
	require.NoError(t, err)
	daemon := dispatchtest.NewServer(t, string(body))
	families := func(exposition string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(exposition, "\n") {
			if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
				name, _, _ := strings.Cut(rest, " ")
				prefix, _, _ := strings.Cut(name, "_")
				out[prefix+"_"] = true
			}
		}
		return out
	}
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("disabled=%v", disabled), func(t *testing.T) {
			t.Parallel()
			args := []string{"--target.url=" + daemon.URL + "/api/daemon/status"}
			if disabled {
				args = append(args, "--web.disable-exporter-metrics")
			}
			e := startExporter(t, args...)
			code, exposition := httpGet(t, e.url("/metrics"))
			require.Equal(t, 200, code)
			got := families(exposition)
			assert.True(t, got["dispatch_"], "the daemon's families are there either way:\n%s", exposition)
			assert.Equal(t, "1", metric(exposition, `dispatch_up{loop="dispatch"}`), exposition)
			assert.Equal(t, !disabled, got["go_"], "go_* families present unless disabled:\n%s", exposition)
			assert.Equal(t, !disabled, got["process_"], "process_* families present unless disabled:\n%s", exposition)
			assert.False(t, got["promhttp_"], "no promhttp_* families:\n%s", exposition)
		})
	}
}
