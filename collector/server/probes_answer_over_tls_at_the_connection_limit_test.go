package server

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProbesAnswerOverTLSAtTheConnectionLimit: with TLS and a login,
// connections that finished a handshake and failed the login with a small
// body announced and never sent hold every place of
// --web.max-connections, then connections that never send a ClientHello
// come; probes over HTTP/2 and over HTTP/1.1 still answer.
func TestProbesAnswerOverTLSAtTheConnectionLimit(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status", "--web.max-connections=4",
		"--web.config.file="+tlsWebConfig(t))
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own certificate
	for range 4 {
		c, err := tls.Dial("tcp", e.addr, insecure.Clone())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "POST /-/healthy HTTP/1.1\r\nHost: exporter\r\nContent-Length: 1000\r\n\r\nx")
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, c) // the 401, then nothing
	}
	for range 2 {
		c, err := net.Dial("tcp", e.addr) // no ClientHello, ever
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
	}
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: insecure.Clone(), ForceAttemptHTTP2: h2, DisableKeepAlives: true}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for _, path := range []string{"/-/target/healthy", "/-/healthy", "/metrics"} {
			req, err := http.NewRequest(http.MethodGet, "https://"+e.addr+path, nil)
			require.NoError(t, err)
			req.SetBasicAuth("prometheus", "s3cret")
			resp, err := client.Do(req)
			if !assert.NoError(t, err, "%s http2=%v", path, h2) {
				continue
			}
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode, path)
			assert.Equal(t, h2, resp.ProtoMajor == 2, path)
		}
	}
}
