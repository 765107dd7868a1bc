package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

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

func TestParseConfig(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(goodConfig))
	require.NoError(t, err)
	require.Len(t, cfg.Targets, 2)
	eu := cfg.Targets[1]
	assert.Equal(t, "smithy-eu", eu.Name)
	assert.Equal(t, 2*time.Second, time.Duration(eu.Timeout))
	assert.Equal(t, 3*time.Minute, time.Duration(eu.StaleThreshold))
	assert.Equal(t, "ops", eu.HTTPClientConfig.BasicAuth.Username)
	assert.True(t, cfg.Targets[0].HTTPClientConfig.FollowRedirects, "prometheus/common defaults apply")
}

func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, err string }{
		"unknown top-level key": {"targets: [{name: a, url: 'http://x'}]\nmodules: {}", "field modules not found"},
		"unknown target key":    {"targets: [{name: a, url: 'http://x', timout: 2s}]", "field timout not found"},
		"unknown nested key":    {"targets: [{name: a, url: 'http://x', basic_auth: {user: x}}]", "field user not found"},
		"no targets":            {"targets: []", "no targets"},
		"missing name":          {"targets: [{url: 'http://x'}]", `name "": use letters`},
		"name with a slash":     {"targets: [{name: a/b, url: 'http://x'}]", `name "a/b"`},
		"duplicate name":        {"targets: [{name: a, url: 'http://x'}, {name: a, url: 'http://y'}]", `duplicate name "a"`},
		"missing url":           {"targets: [{name: a}]", `url "": want http:// or https://`},
		"ftp url":               {"targets: [{name: a, url: 'ftp://x'}]", "want http:// or https://"},
		"bad duration":          {"targets: [{name: a, url: 'http://x', timeout: soon}]", `not a valid duration string: "soon"`},
		"two auth methods": {"targets: [{name: a, url: 'http://x', basic_auth: {username: u}, authorization: {credentials: c}}]",
			"at most one of basic_auth, oauth2 & authorization must be configured"},
		"not YAML": {"targets: [", "parse: yaml"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(c.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
		})
	}
}

func TestLoadConfigResolvesRelativePaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(path, []byte(goodConfig), 0o600))
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "secrets/password"), cfg.Targets[1].HTTPClientConfig.BasicAuth.PasswordFile)

	_, err = LoadConfig(filepath.Join(dir, "missing.yml"))
	assert.ErrorContains(t, err, "read config")
}

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
	assert.Contains(t, logs.String(), "field bogus not found")
	require.NoError(t, testutil.GatherAndCompare(reg, stringsReader(`
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
