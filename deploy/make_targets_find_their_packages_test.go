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

// TestMakeTargetsFindTheirPackages: each make target that runs tests or
// benchmarks names packages that go finds from where it runs them. e2e/ is
// a module of its own: `go test ./e2e` from the root is "main module does
// not contain package", so make e2e, simulate, mutate and the e2e
// benchmarks fail before running anything. Here go only lists the packages
// it is given, on tools already "installed" in a cache of fakes.
func TestMakeTargetsFindTheirPackages(t *testing.T) {
	t.Parallel()
	make := lookOrSkip(t, "make")
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("install-tools would install podman and busybox-static here")
	}
	dir := t.TempDir()
	fake := func(path, script string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755))
	}
	cache := filepath.Join(dir, "tools")
	for _, tool := range []string{"prometheus-v0.316.0/prometheus", "prometheus-v0.316.0/promtool",
		"alertmanager-v0.35.0/alertmanager", "alertmanager-v0.35.0/amtool", "json_exporter-v0.7.0/json_exporter"} {
		fake(filepath.Join(cache, tool), "exit 0")
	}
	bin := filepath.Join(dir, "bin")
	fake(filepath.Join(bin, "podman"), "exit 0")
	fake(filepath.Join(bin, "runc"), "exit 0")
	goList := filepath.Join(dir, "go")
	fake(goList, `pkgs=; for a in "$@"; do case $a in ./*) pkgs="$pkgs $a";; esac; done
exec "`+realGo+`" list $pkgs >/dev/null`)

	for _, target := range []string{"e2e", "simulate", "mutate", "bench", "bench-compare", "bench-latency", "bench-scale"} {
		out := run(t, make, "-C", "..", "-n", target, "GO="+goList)
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			if !strings.Contains(line, goList) {
				continue
			}
			sh := exec.Command("sh", "-c", line)
			sh.Dir = ".."
			sh.Env = append(os.Environ(), "DISPATCH_EXPORTER_TOOLS="+cache, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			b, err := sh.CombinedOutput()
			assert.NoError(t, err, "make %s: %s\n%s", target, line, b)
		}
	}
}
