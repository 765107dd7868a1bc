package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildInfoFallsBackToGoBuildInformation(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "1bf504c0ffee"}, {Key: "vcs.time", Value: "2026-11-26T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	cases := map[string]struct {
		linker buildInfo
		info   *debug.BuildInfo
		want   buildInfo
		line   string
	}{
		"linker flags win": {buildInfo{version: "1.2.3", revision: "abc", branch: "main", buildDate: "2026-11-26"}, vcs,
			buildInfo{version: "1.2.3", revision: "abc", branch: "main", buildDate: "2026-11-26", revisionTime: "2026-11-26T10:00:00Z"},
			"1.2.3 (revision abc, branch main, built 2026-11-26)"},
		"go build in a checkout": {buildInfo{}, vcs,
			buildInfo{version: "0.1.0", revision: "1bf504c0ffee-modified", revisionTime: "2026-11-26T10:00:00Z"},
			"0.1.0 (revision 1bf504c0ffee-modified, committed 2026-11-26T10:00:00Z)"},
		"go install module@version": {buildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}},
			buildInfo{version: "0.2.0", revision: "unknown"}, "0.2.0 (revision unknown)"},
		"pseudo-version": {buildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261126100000-1bf504c0ffee+dirty"}},
			buildInfo{version: "0.1.0", revision: "unknown"}, "0.1.0 (revision unknown)"},
		"no build information": {buildInfo{}, nil, buildInfo{version: "0.1.0", revision: "unknown"}, "0.1.0 (revision unknown)"},
	}
	for name, c := range cases {
		got := newBuildInfo(c.linker, c.info, "0.1.0\n")
		assert.Equal(t, c.want, got, name)
		assert.Equal(t, c.line, got.String(), name)
	}
}

// TestVersionEverywhere: the landing page, the build_info metric and
// --version say the same version, never an empty one.
func TestVersionEverywhere(t *testing.T) {
	t.Parallel()
	want := strings.TrimSpace(versionFile)
	require.NotEmpty(t, want)
	e := startExporter(t, "--target.url=http://127.0.0.1:1/status")
	_, landing := httpGet(t, e.url("/"))
	assert.Contains(t, landing, want+" (revision ")
	assert.NotContains(t, landing, "version=,")
	_, metrics := httpGet(t, e.url("/metrics"))
	assert.Contains(t, metrics, `dispatch_exporter_build_info{branch="",goarch=`)
	assert.Contains(t, metrics, `version="`+want+`"`)
}
