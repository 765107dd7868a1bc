package server

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

func TestReloadOverHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	e := startExporter(t, "--config.file="+path)

	code, body := httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 400, code, body)
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}, {name: b, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	code, _ = httpPost(t, e.url("/-/reload"))
	require.Equal(t, 200, code)
	code, body = httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 200, code)
	assert.Equal(t, "0", metric(body, `dispatch_up{loop="dispatch"}`))
	assert.Equal(t, "1", metric(body, `dispatch_status_request_failures_total{loop="dispatch",reason="connect"}`))

	require.NoError(t, os.WriteFile(path, []byte("targets: nope"), 0o600))
	code, _ = httpPost(t, e.url("/-/reload"))
	assert.Equal(t, 500, code)
	_, body = httpGet(t, e.url("/metrics"))
	assert.Equal(t, "0", metric(body, "dispatch_exporter_config_last_reload_successful"))
	assert.NotContains(t, body, "dispatch_up", "with a config file, targets are served on /probe only")
	code, _ = httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 200, code, "the old config stays in force")
}

func TestSIGHUPReloadsTheConfig(t *testing.T) {
	t.Parallel()
	bin := buildExporter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	addr := freeAddr(t)
	var logs dispatchtest.Logs
	cmd := exec.Command(bin, "--config.file="+path, "--web.listen-address="+addr)
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "Listening on") }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}, {name: b, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		code, _ := httpGet(t, "http://"+addr+"/probe?target=b")
		return code == 200
	}, 10*time.Second, 20*time.Millisecond, "target b after SIGHUP: %s", logs.String())

	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status', extra: 1}]"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "config reload failed") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "line 1: target a: unknown field extra")
	code, _ := httpGet(t, "http://"+addr+"/probe?target=b")
	assert.Equal(t, 200, code, "a bad file keeps the old config")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "SIGTERM shuts down cleanly")
	assert.Contains(t, logs.String(), "shutting down")
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
