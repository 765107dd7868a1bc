package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// A proxy_url password in a config file that does not parse shows nowhere:
// not in --config.check, POST /-/reload's body nor the reload log line.
func TestNoProxyURLPasswordInConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(`targets:
  - name: a
    url: http://127.0.0.1:1/status
    proxy_url: http://proxyuser:pr0xypw@127.0.0.1:bad
`), 0o600))
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"--config.check", "--config.file=" + cfg}, &out, &errOut)
	assert.NotEqual(t, 0, code)
	assert.NotContains(t, out.String()+errOut.String(), "pr0xypw", "--config.check output")

	good := filepath.Join(dir, "good.yml")
	require.NoError(t, os.WriteFile(good, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	e := startExporter(t, "--config.file="+good)
	data, _ := os.ReadFile(cfg)
	require.NoError(t, os.WriteFile(good, data, 0o600))
	_, body := httpPost(t, e.url("/-/reload"))
	assert.NotContains(t, body, "pr0xypw", "POST /-/reload body")
	assert.NotContains(t, e.logs.String(), "pr0xypw", "reload log")
}

// A daemon (or a proxy in front of it) whose error page echoes the request
// (path, query, Authorization): the excerpt of that body on
// /-/target/healthy, the landing page and the log shows none of its secrets.
func TestNoSecretEchoedByTheDaemonIsShown(t *testing.T) {
	t.Parallel()
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route for "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization"), http.StatusNotFound)
	}))
	defer daemon.Close()
	secretURL := "http://admin:s3cret@" + strings.TrimPrefix(daemon.URL, "http://") + "/status?token=abc123"
	e := startExporter(t, "--target.url="+secretURL)
	_, healthy := httpGet(t, e.url("/-/target/healthy"))
	_, landing := httpGet(t, e.url("/"))
	for what, out := range map[string]string{"/-/target/healthy": healthy, "/": landing, "log": e.logs.String()} {
		assert.NotContains(t, out, "abc123", what)
		assert.NotContains(t, out, "YWRtaW46czNjcmV0", what) // base64("admin:s3cret")
	}
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
