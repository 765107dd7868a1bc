package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The end-to-end tests and benchmarks run the exporter's binary, built from
// the module root as a user would, beside real Prometheus and Alertmanager.

// buildExporter builds the exporter binary with go build and ldflags
// (none: the VERSION file's version).
func buildExporter(t testing.TB, ldflags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dispatch_exporter")
	args := []string{"build", "-o", bin}
	if len(ldflags) > 0 {
		args = append(args, "-ldflags", strings.Join(ldflags, " "))
	}
	// The binary is the root module's (e2e is a module of its own).
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// freeAddr is a loopback address nothing listens on yet.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
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

// metricNumber is one series' value in an exposition; an absent series,
// or one that is not a number, fails t (from any goroutine) rather than
// reading as 0.
func metricNumber(t testing.TB, body, series string) float64 {
	v, err := strconv.ParseFloat(metric(body, series), 64)
	if err != nil {
		t.Errorf("%s: absent or not a number: %v", series, err)
	}
	return v
}

// proc is a process the test started; it is killed when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
}

func startProc(t testing.TB, name string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start(), "start %s", name)
	p := &proc{name: name, cmd: cmd, log: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log (last 3000 bytes) ---\n%s", name, lastBytes(string(b), 3000))
		}
	})
	return p
}

// lastBytes is the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitHTTP(t testing.TB, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 60*time.Second, 50*time.Millisecond, "waiting for %s", url)
}
