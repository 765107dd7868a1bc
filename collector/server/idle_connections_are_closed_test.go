package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepAlive opens a connection to addr and makes one keep-alive request
// for path on it, leaving it open and idle.
func keepAlive(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: exporter\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.False(t, resp.Close, "the server keeps the connection")
	return c
}

// closedByServer reports whether the server closed c: a read ends with EOF
// (or a reset) before wait passes, rather than with the deadline.
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestIdleConnectionsAreClosed: keep-alive connections left idle are
// closed by the server once --web.idle-timeout passes (net/http kept them
// forever before), every one of them.
func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status", "--web.idle-timeout=300ms")
	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = keepAlive(t, e.addr, "/-/healthy")
	}
	closed := 0
	for _, c := range conns {
		if closedByServer(c, 30*time.Second) { // a bound far over the idle timeout, not a measure of it
			closed++
		}
	}
	assert.Equal(t, n, closed, "every idle connection closed by the server")
}
