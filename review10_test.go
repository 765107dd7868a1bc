package main

// Cases a reviewer of issue 10 found; each failed before its fix.

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	code := run(context.Background(), []string{"--config.check", "--config.file=" + cfg}, &out, &errOut)
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

// Bad values that used to start (or fail after "starting"), or end with a
// line that did not name the flag.
func TestMoreBadFlagsAreRefusedByName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string // the flag the one line should name
	}{
		{[]string{"--target.url=http://127.0.0.1:99999/status"}, "--target.url"},               // starts; every scrape: invalid port
		{[]string{"--web.listen-address=bogus"}, "--web.listen-address"},                       // "server failed" after the start lines
		{[]string{"--liveness.mode=foo"}, "--liveness.mode"},                                   // kingpin's enum text, no flag
		{[]string{"--target.max-body-bytes=-1"}, "--target.max-body-bytes"},                    // "units: unknown unit  in -1"
		{[]string{"--web.telemetry-path=/metrics/"}, "--web.telemetry-path"},                   // serves metrics on /metrics/<anything>
		{[]string{"--demo", "--watchdog.stack-dump-dir=/proc/x"}, "--watchdog.stack-dump-dir"}, // fails only at the first WEDGED
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			code := run(ctx, append([]string{"--web.listen-address=127.0.0.1:0"}, c.args...), &out, &out)
			assert.NotEqual(t, 0, code, "started and ran: %s", out.String())
			assert.Contains(t, out.String(), c.want, "the line names the flag")
			assert.NotContains(t, out.String(), "Listening on")
		})
	}
}
