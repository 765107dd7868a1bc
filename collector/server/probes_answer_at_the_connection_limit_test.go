package server

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
)

// TestProbesAnswerAtTheConnectionLimit: with --web.max-connections held
// by others (idle keep-alive connections, and connections that never send
// a request), the exporter's own probes still answer at once: each new
// connection closes the oldest one serving no request, which
// dispatch_exporter_http_connections_shed_total counts. Blocking at the
// limit instead (netutil.LimitListener) would leave them waiting for an
// idle timeout.
func TestProbesAnswerAtTheConnectionLimit(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status", "--web.max-connections=8")
	var held []net.Conn
	for range 4 {
		held = append(held, keepAlive(t, e.addr, "/-/healthy"))
	}
	for range 4 {
		c, err := net.Dial("tcp", e.addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		held = append(held, c)
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	for _, path := range []string{"/-/target/healthy", "/-/healthy", "/metrics"} {
		resp, err := client.Get(e.url(path))
		require.NoError(t, err, path)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, path)
	}
	_, body := httpGet(t, e.url("/metrics"))
	shedText := metric(body, family.ShedConnectionsMetric)
	require.NotEmpty(t, shedText, "the shed counter is exported")
	shed, err := strconv.ParseFloat(shedText, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, shed, 1.0, "room was made")

	closed := 0
	for _, c := range held {
		if closedByServer(c, 200*time.Millisecond) {
			closed++
		}
	}
	assert.Equal(t, int(shed), closed, "each shed connection was one of those held, never a probe's")
	assert.Less(t, closed, len(held), "only as many as needed")
}
