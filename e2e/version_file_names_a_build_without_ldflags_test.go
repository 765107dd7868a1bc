package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionFileNamesABuildWithoutLdflags: a plain go build (or go run)
// says the VERSION file's version, and make build's -ldflags override it;
// --version, the landing page and dispatch_exporter_build_info say the
// same, never an empty version.
func TestVersionFileNamesABuildWithoutLdflags(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "VERSION"))
	require.NoError(t, err)
	file := strings.TrimSpace(string(raw))
	require.NotEmpty(t, file)
	const pkg = "-X github.com/prometheus/common/version."
	for _, c := range []struct {
		name            string
		ldflags         []string
		version, branch string
	}{
		{"go build", nil, file, ""},
		{"ldflags", []string{pkg + "Version=9.9.9-test", pkg + "Branch=main", pkg + "Revision=abc1234"}, "9.9.9-test", "main"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := buildExporter(t, c.ldflags...)
			out, err := exec.Command(bin, "--version").CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "dispatch_exporter, version "+c.version+" (branch: "+c.branch+", revision: ")
			if c.ldflags != nil {
				assert.Contains(t, string(out), "revision: abc1234)")
			}

			addr := freeAddr(t)
			startProc(t, "exporter", bin, "--target.url=http://127.0.0.1:1/status", "--web.listen-address="+addr)
			waitHTTP(t, "http://"+addr+"/-/ready")
			landing := get(t, "http://"+addr+"/")
			assert.Contains(t, landing, "version="+c.version+", branch="+c.branch+", revision=")
			metrics := get(t, "http://"+addr+"/metrics")
			assert.Contains(t, metrics, `dispatch_exporter_build_info{branch="`+c.branch+`",goarch=`)
			assert.Contains(t, metrics, `version="`+c.version+`"`)
		})
	}
}

// get is url's body, after a 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	return string(b)
}
