package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"
)

// TestConfigOverTheSizeLimitKeepsTheOldOne: a reload of a file over
// config.MaxFileBytes fails, says why in the log, sets
// dispatch_exporter_config_last_reload_successful to 0 and keeps the old
// targets.
func TestConfigOverTheSizeLimitKeepsTheOldOne(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dispatch.yml")
	target := "targets: [{name: a, url: 'http://127.0.0.1:1/status'}]\n"
	require.NoError(t, os.WriteFile(path, []byte(target), 0o600))
	e := startExporter(t, "--config.file="+path)
	_, body := httpGet(t, e.url("/metrics"))
	require.Equal(t, "1", metric(body, family.ReloadSuccessfulMetric))

	require.NoError(t, os.WriteFile(path, []byte(target+strings.Repeat("#", config.MaxFileBytes)), 0o600))
	code, _ := httpPost(t, e.url("/-/reload"))
	assert.Equal(t, 500, code)
	_, body = httpGet(t, e.url("/metrics"))
	assert.Equal(t, "0", metric(body, family.ReloadSuccessfulMetric))
	assert.Contains(t, e.logs.String(), "over the 4 MiB limit of a config file")
	code, _ = httpGet(t, e.url("/probe?target=a"))
	assert.Equal(t, 200, code, "the old config stays in force")
}
