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

// TestMakeTestGivesEveryModuleTheTools: make test walks the modules and runs
// each one's tests with the pinned Prometheus, promtool, Alertmanager and
// amtool set (PROMETHEUS, PROMTOOL, ALERTMANAGER, AMTOOL): without them the
// rule tests (alerts), the end-to-end page (e2e) and the deploy checks skip,
// and make test passes having run none of them. The tests of each module
// run here with a go that only reports what it was given, on tools already
// "installed" in a cache of fakes.
func TestMakeTestGivesEveryModuleTheTools(t *testing.T) {
	t.Parallel()
	make := lookOrSkip(t, "make")
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
		"alertmanager-v0.35.0/alertmanager", "alertmanager-v0.35.0/amtool"} {
		fake(filepath.Join(cache, tool), "exit 0")
	}
	bin := filepath.Join(dir, "bin")
	fake(filepath.Join(bin, "podman"), "exit 0")
	fake(filepath.Join(bin, "runc"), "exit 0")
	goReport := filepath.Join(dir, "go")
	fake(goReport, `echo "module=$(basename "$PWD") PROMTOOL=$PROMTOOL AMTOOL=$AMTOOL PROMETHEUS=$PROMETHEUS ALERTMANAGER=$ALERTMANAGER"`)

	out := run(t, make, "-C", "..", "-n", "test", "GO="+goReport)
	var line string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, "for m in") && strings.Contains(l, " test ") {
			line = l
		}
	}
	require.NotEmpty(t, line, "make -n test runs no test loop over the modules:\n%s", out)

	sh := exec.Command("sh", "-c", line)
	sh.Dir = ".."
	sh.Env = append(os.Environ(), "DISPATCH_EXPORTER_TOOLS="+cache, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PROMETHEUS=", "PROMTOOL=", "ALERTMANAGER=", "AMTOOL=")
	b, err := sh.CombinedOutput()
	require.NoError(t, err, "%s", b)
	reports := 0
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "module=") {
			continue
		}
		reports++
		for _, v := range []string{"PROMTOOL", "AMTOOL", "PROMETHEUS", "ALERTMANAGER"} {
			assert.NotContains(t, l, v+"= ", "the tests of %s run without %s", strings.Fields(l)[0], v)
			assert.NotRegexp(t, v+"=$", l, "the tests of %s run without %s", strings.Fields(l)[0], v)
		}
	}
	assert.Equal(t, 5, reports, "every module's tests run: %s", b)
}
