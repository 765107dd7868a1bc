package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestASlowRequestBodyHoldsNoConnectionSlot: a client that sends complete
// headers announcing a small body and then trickles it (or never sends it)
// holds its connection "serving a request" while net/http reads what is
// left of the body for reuse, up to the read timeout (2m). No login is
// needed for that. With every connection held that way, the exporter's own
// probes must still answer.
func TestASlowRequestBodyHoldsNoConnectionSlot(t *testing.T) {
	t.Parallel()
	const limit = 4
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status", "--web.max-connections=4")
	for range limit {
		c, err := net.Dial("tcp", e.addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "POST /-/healthy HTTP/1.1\r\nHost: exporter\r\nContent-Length: 1000\r\n\r\nx")
		require.NoError(t, err)
		// The handler has answered (or not): the body is still owed.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = http.ReadResponse(bufio.NewReader(c), nil)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	for _, path := range []string{"/-/target/healthy", "/-/healthy", "/metrics"} {
		resp, err := client.Get(e.url(path))
		if !assert.NoError(t, err, path) {
			continue
		}
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, path)
	}
}
