package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretInAnyOutput plants credentials in the target URL (user info
// and a query value) and looks for them in everything the exporter says:
// its logs at start-up and on failure, the landing page, /metrics, /probe
// and /-/target/healthy, in flag mode and with a config file.
func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	secretURL := func() string {
		return fmt.Sprintf("http://admin:s3cret@%s/status?token=abc", strings.TrimPrefix(daemon.URL, "http://"))
	}
	cfg := filepath.Join(t.TempDir(), "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets: [{name: a, url: '"+secretURL()+"'}]"), 0o600))

	flagMode := startExporter(t, "--target.url="+secretURL(), "--target.timeout=1s")
	fileMode := startExporter(t, "--config.file="+cfg, "--target.timeout=1s")
	pages := func(e *exporter, target string) []string {
		var bodies []string
		for _, path := range []string{"/", "/metrics", "/probe?target=" + target, "/-/target/healthy?target=" + target} {
			_, body := httpGet(t, e.url(path))
			bodies = append(bodies, path+": "+body)
		}
		return bodies
	}
	var outputs []string
	outputs = append(outputs, pages(flagMode, "default")...) // the daemon answers 500
	outputs = append(outputs, pages(fileMode, "a")...)
	daemon.Close() // now refused: net/http's errors carry the URL
	outputs = append(outputs, pages(flagMode, "default")...)
	outputs = append(outputs, pages(fileMode, "a")...)
	outputs = append(outputs, "flag mode log: "+flagMode.logs.String(), "file mode log: "+fileMode.logs.String())

	all := strings.Join(outputs, "\n")
	require.Contains(t, flagMode.logs.String(), `url="http://xxxxx@127.0.0.1`, "the start-up line names the target, redacted")
	require.Contains(t, all, "connection refused", "the failure is shown")
	require.Contains(t, all, "/status?token=xxxxx", "the failing URL is shown, redacted")
	for _, secret := range []string{"s3cret", "abc", "admin"} {
		for _, out := range outputs {
			assert.NotContains(t, out, secret, "%.300s", out)
		}
	}
}

// TestReloadWithoutAConfigFile: in flag mode there is nothing to reload,
// and the answer says so rather than "config reloaded".
func TestReloadWithoutAConfigFile(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status")
	code, body := httpPost(t, e.url("/-/reload"))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "no --config.file to reload")
	assert.NotContains(t, body, "reloaded")
	_, metrics := httpGet(t, e.url("/metrics"))
	assert.Equal(t, "1", metric(metrics, "dispatch_exporter_config_last_reload_successful"), "nothing failed")
}

// TestUnknownTargetDisclosesNothing: an unknown /probe target is refused
// without listing the configured ones.
func TestUnknownTargetDisclosesNothing(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets: [{name: secret-eu, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	e := startExporter(t, "--config.file="+cfg)
	code, body := httpGet(t, e.url("/probe?target=nope"))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "unknown target\n", body)
	code, body = httpGet(t, e.url("/probe"))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.NotContains(t, body, "secret-eu")
}

// TestLandingPageLinksAnswer: every link and the prefilled probe form of
// the landing page answer 200, in flag mode and with a config file.
func TestLandingPageLinksAnswer(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	href := regexp.MustCompile(`href="([^"]+)"`)
	value := regexp.MustCompile(`name="target"[^>]*value="([^"]*)"`)
	for _, args := range [][]string{{"--target.url=http://127.0.0.1:1/status"}, {"--config.file=" + cfg}} {
		e := startExporter(t, args...)
		_, landing := httpGet(t, e.url("/"))
		links := href.FindAllStringSubmatch(landing, -1)
		require.NotEmpty(t, links, landing)
		for _, l := range links {
			if strings.HasPrefix(l[1], "http") || strings.Contains(l[1], "debug/pprof") {
				continue // external, or a profile that takes its time
			}
			code, _ := httpGet(t, e.url("/"+strings.TrimPrefix(l[1], "/")))
			assert.Equal(t, 200, code, "%v: link %s", args, l[1])
		}
		if m := value.FindStringSubmatch(landing); m != nil && m[1] != "" {
			code, _ := httpGet(t, e.url("/probe?target="+m[1]))
			assert.Equal(t, 200, code, "%v: the prefilled form", args)
		}
	}
}
