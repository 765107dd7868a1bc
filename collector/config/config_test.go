package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestParseConfigRejects: each error says where (line, target, field) and
// what, in YAML's words: no Go type names, no index, no secret.
func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, err string }{
		"unknown top-level key": {"targets: [{name: a, url: 'http://x'}]\nmodules: {}", "line 2: unknown field modules"},
		"unknown target key":    {"targets:\n  - name: a\n    url: http://x\n  - name: b\n    url: http://y\n    timout: 2s\n", "line 6: target b: unknown field timout"},
		"unknown nested key":    {"targets: [{name: a, url: 'http://x', basic_auth: {user: x}}]", "line 1: target a: basic_auth: unknown field user"},
		"no targets":            {"targets: []", "no targets"},
		"targets not a list":    {"targets: abc", "line 1: targets: wrong type: a string is not allowed here"},
		"missing name":          {"targets: [{url: 'http://x'}]", `line 1: target "": name: use letters`},
		"name with a slash":     {"targets: [{name: a/b, url: 'http://x'}]", `target "a/b": name: use letters`},
		"duplicate name":        {"targets:\n  - name: a\n    url: http://x\n  - name: a\n    url: http://y\n", `line 4: target a: duplicate name "a"`},
		"missing url":           {"targets: [{name: a}]", `line 1: target a: url: want http:// or https:// and a host, got ""`},
		"ftp url":               {"targets:\n  - name: a\n    url: ftp://x\n", `line 3: target a: url: want http:// or https:// and a host, got "ftp://x"`},
		"url not a string":      {"targets:\n  - name: a\n    url: [http://x]\n", "line 3: target a: url: wrong type: a list is not allowed here"},
		"bad duration":          {"targets: [{name: a, url: 'http://x', timeout: soon}]", `line 1: target a: timeout: "soon" is not a duration`},
		"negative duration":     {"targets:\n  - name: a\n    url: http://x\n    stale_threshold: -5s\n", `line 4: target a: stale_threshold: "-5s" is not a duration`},
		"two auth methods": {"targets: [{name: a, url: 'http://x', basic_auth: {username: u}, authorization: {credentials: c}}]",
			"line 1: target a: http client: at most one of basic_auth, oauth2 & authorization must be configured"},
		"not YAML": {"targets: [", "not valid YAML: yaml: line 1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(c.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
			assert.NotContains(t, err.Error(), "collector.", "no Go type names")
			assert.NotContains(t, err.Error(), "targets[", "no index")
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestConfigErrorsHideURLSecrets(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://admin:s3cret@x/status?token=abc", "http://admin:s3cret@[::1/status?token=abc", "http:///status?token=abc"} {
		_, err := ParseConfig([]byte("targets: [{name: a, url: '" + u + "'}]"))
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "target a: url: ")
		assert.NotContains(t, err.Error(), "s3cret")
		assert.NotContains(t, err.Error(), "abc")
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"http://admin:s3cret@host:3457/status?token=abc&x=1": "http://xxxxx@host:3457/status?token=xxxxx&x=xxxxx",
		"https://tok@host/status":                            "https://xxxxx@host/status",
		"http://localhost:3457/api/daemon/status":            "http://localhost:3457/api/daemon/status",
		"http://host/status#frag":                            "http://host/status",
		"http://[::1":                                        "(unparsable URL)",
	} {
		assert.Equal(t, want, RedactURL(raw), raw)
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
