package server

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	webConfig := tlsWebConfig(t)
	e := startExporter(t, "--demo", "--web.config.file="+webConfig)

	certPEM, err := os.ReadFile(filepath.Join(filepath.Dir(webConfig), "tls.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodGet, "https://"+e.addr+"/metrics", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 {
			assert.Contains(t, string(body), "dispatch_up")
		}
		return resp.StatusCode
	}
	assert.Equal(t, 401, get("", ""), "no credentials")
	assert.Equal(t, 401, get("prometheus", "wrong"))
	assert.Equal(t, 200, get("prometheus", "s3cret"))

	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err == nil {
		defer resp.Body.Close()
		assert.Equal(t, 400, resp.StatusCode, "plain HTTP to a TLS port")
	}
}
