package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// freeAddr is a loopback address nothing listens on yet.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// exporter is Run() in process, stopped when the test ends.
type exporter struct {
	addr string
	logs *dispatchtest.Logs
	code chan int
}

func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	e := &exporter{addr: freeAddr(t), logs: &dispatchtest.Logs{}, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.code <- Run(ctx, append(args, "--web.listen-address="+e.addr), io.Discard, e.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-e.code:
			assert.Equal(t, 0, c, "clean shutdown")
		case <-time.After(10 * time.Second):
			t.Error("exporter did not stop")
		}
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "exporter listening: %s", e.logs)
	return e
}

func (e *exporter) url(path string) string { return "http://" + e.addr + path }

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func httpPost(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// metric returns the value of one series in an exposition, or "" if absent.
func metric(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

// tlsWebConfig writes an exporter-toolkit web config with TLS (a
// self-signed certificate for 127.0.0.1, in tls.crt beside it) and the
// basic auth user prometheus:s3cret; it returns its path.
func tlsWebConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeSelfSignedCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, fmt.Appendf(nil, `tls_server_config:
  cert_file: %s
  key_file: %s
basic_auth_users:
  prometheus: %s
`, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), hash), 0o600))
	return webConfig
}

// writeSelfSignedCert writes tls.crt and tls.key for 127.0.0.1 into dir.
func writeSelfSignedCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dispatch_exporter test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPEM
}

// buildExporter builds the exporter binary, for tests of the real process.
func buildExporter(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dispatch_exporter")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stoneforge/dispatch_exporter").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}
