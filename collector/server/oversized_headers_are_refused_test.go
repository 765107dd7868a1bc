package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOversizedHeadersAreRefused: headers over maxHeaderBytes, 900 KB as
// from an attacker or 40 KB, get 431 before any handler (or login) runs,
// so each connection holds at most that much; the headers Prometheus, the
// kubelet and a basic-auth login send are far under it.
func TestOversizedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	require.LessOrEqual(t, maxHeaderBytes, 64<<10, "a limit fitting an exporter")
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status")
	client := &http.Client{Timeout: 20 * time.Second}
	get := func(header string) int {
		req, err := http.NewRequest(http.MethodGet, e.url("/-/target/healthy"), nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", header)
		req.Header.Set("Authorization", "Basic cHJvYmU6Y2hhbmdlLW1lLXByb2Jl")
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, get(strings.Repeat("x", 900_000)))
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, get(strings.Repeat("x", 40<<10)))
	assert.Equal(t, http.StatusOK, get(strings.Repeat("x", 8<<10)), "a large but sane header passes")
}
