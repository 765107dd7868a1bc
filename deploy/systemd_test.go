package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSystemdUnit runs systemd-analyze verify on the unit (with ExecStart
// pointed at a freshly built binary, since verify checks that it exists)
// and checks its hardening with systemd-analyze security.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not on this machine")
	}
	unit, err := os.ReadFile("systemd/dispatch_exporter.service")
	require.NoError(t, err)
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID", "LimitNOFILE=8192\n"} {
		assert.Contains(t, string(unit), want)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "dispatch_exporter")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".." // the root module's binary (deploy is a module of its own)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	path := filepath.Join(dir, "dispatch_exporter.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/dispatch_exporter", bin)), 0o644))

	out, err = exec.Command(analyze, "verify", path).CombinedOutput()
	assert.NoError(t, err, "systemd-analyze verify:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "no warnings")

	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	assert.NoError(t, err, "%s", out)
	assert.Regexp(t, `Overall exposure level for dispatch_exporter.service: [0-1]\.\d OK`, string(out), "hardened: exposure under 2 of 10")
}
