package sidecar

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// goodConfig is two targets, as an operator writes them.
const goodConfig = `
targets:
  - name: smithy
    url: http://localhost:3457/api/daemon/status
  - name: smithy-eu
    url: https://smithy.eu.example:3457/api/daemon/status
    timeout: 2s
    stale_threshold: 3m
    basic_auth:
      username: ops
      password_file: secrets/password
    tls_config:
      insecure_skip_verify: false
`

func TestReloaderKeepsTheOldConfigOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }
	write(goodConfig)
	var logs dispatchtest.Logs
	targets := NewTargets(TargetDefaults{Timeout: time.Second})
	reg := prometheus.NewRegistry()
	r := NewReloader(path, targets, reg, logs.Logger())
	require.NoError(t, r.Reload())
	assert.Equal(t, []string{"smithy", "smithy-eu"}, targets.Names())
	before, _ := targets.Get("smithy")

	write("targets: [{name: other, url: 'http://x', bogus: 1}]")
	require.Error(t, r.Reload())
	assert.Equal(t, []string{"smithy", "smithy-eu"}, targets.Names(), "the old config stays in force")
	assert.Equal(t, 1, logs.Count("config reload failed; the previous config stays in force"))
	assert.Contains(t, logs.String(), "line 1: target other: unknown field bogus")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dispatch_exporter_config_last_reload_successful 1 when the last reload of the config file succeeded, 0 when it failed and the previous config stayed in force.
# TYPE dispatch_exporter_config_last_reload_successful gauge
dispatch_exporter_config_last_reload_successful 0
`), "dispatch_exporter_config_last_reload_successful"))

	write(goodConfig + "  - name: third\n    url: http://localhost:1/status\n")
	require.NoError(t, r.Reload())
	assert.Equal(t, []string{"smithy", "smithy-eu", "third"}, targets.Names())
	after, _ := targets.Get("smithy")
	assert.Same(t, before, after, "an unchanged target keeps its state across a reload")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.successful))
}

func TestReloaderWithoutAFile(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	r := NewReloader("", NewTargets(TargetDefaults{}), prometheus.NewRegistry(), logs.Logger())
	require.NoError(t, r.Load(), "flag mode: nothing to load")
	assert.Equal(t, 1.0, testutil.ToFloat64(r.successful))
	assert.ErrorIs(t, r.Reload(), ErrNoConfigFile)
	assert.Equal(t, 1.0, testutil.ToFloat64(r.successful), "a reload request without a file changes nothing")
	assert.Empty(t, logs.String())
}

func TestReloaderFirstLoadFails(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	r := NewReloader(filepath.Join(t.TempDir(), "missing.yml"), NewTargets(TargetDefaults{}), prometheus.NewRegistry(), logs.Logger())
	err := r.Load()
	require.ErrorContains(t, err, "no such file or directory")
	assert.NotContains(t, logs.String(), "previous config", "at start-up there is none")
}
