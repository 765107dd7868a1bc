package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lineOrder is the start of every logfmt line: ts, caller, level.
var lineOrder = regexp.MustCompile(`^ts=\S+ caller=[\w.-]+\.go:\d+ level=(debug|info|warn|error) msg=`)

// TestLogLinesShareOneKeyOrder: our go-kit lines and exporter-toolkit's
// slog lines ("Listening on") both start ts, caller, level.
func TestLogLinesShareOneKeyOrder(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status")
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "Listening on") }, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, e.logs.String(), "watching one daemon", "one of ours")
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		assert.Regexp(t, lineOrder, line)
	}
}

// TestHTTPServerErrorsLogOnce: net/http's own errors (a TLS handshake that
// is plain HTTP) are one warning, with one caller and the text under msg,
// in logfmt and in JSON.
func TestHTTPServerErrorsLogOnce(t *testing.T) {
	t.Parallel()
	t.Run("logfmt through a TLS listener", func(t *testing.T) {
		t.Parallel()
		e := startExporter(t, "--demo", "--web.config.file="+tlsWebConfig(t))
		resp, err := http.Get("http://" + e.addr + "/metrics")
		if err == nil {
			resp.Body.Close()
		}
		require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), "TLS handshake error") }, 5*time.Second, 10*time.Millisecond)
		var line string
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "TLS handshake error") {
				line = l
			}
		}
		assert.Regexp(t, lineOrder, line)
		assert.Equal(t, 1, strings.Count(line, "caller="), line)
		assert.Contains(t, line, `level=warn msg="http: TLS handshake error from 127.0.0.1:`)
		// The cause varies with timing: "client sent an HTTP request to an
		// HTTPS server", or EOF when the client gave up first.
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		_, bridge := newLoggers(&buf, "info", "json")
		httpErrorLog(bridge).Printf("http: TLS handshake error from %s: %v", "127.0.0.1:5555", "EOF")
		var m map[string]string
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m), buf.String())
		assert.Equal(t, "http: TLS handshake error from 127.0.0.1:5555: EOF", m["msg"])
		assert.Regexp(t, `^log_lines_start_ts_caller_level_test\.go:\d+$`, m["caller"], "the caller, not the message")
		assert.Equal(t, "warn", m["level"])
		assert.NotEmpty(t, m["ts"])
	})
}

func TestLogKeyOrderKeepsTheRest(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger, _ := newLoggers(&buf, "debug", "logfmt")
	require.NoError(t, logger.Log("msg", "hello", "a", 1, "level", "info", "b", 2))
	assert.Regexp(t, `^ts=\S+ caller=log_lines_start_ts_caller_level_test\.go:\d+ level=info msg=hello a=1 b=2\n$`, buf.String())
}
