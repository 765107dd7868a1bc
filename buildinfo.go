package main

import (
	_ "embed" // the VERSION file
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
)

// versionFile is the one version source: make build, release and docker
// pass it to the linker, the Kubernetes manifests name the image by it, and
// a build without linker flags (go run, go build, go install) reads it here.
//
//go:embed VERSION
var versionFile string

// buildInfo is what --version, the landing page, the start-up line and
// dispatch_exporter_build_info say about this binary: what the linker flags
// set (make build, release, docker), else Go's own build information (the
// module version of go install, the VCS revision, its time and whether the
// tree was modified), else the VERSION file.
type buildInfo struct {
	version, revision, revisionTime, branch, buildUser, buildDate string
}

// readBuildInfo gathers buildInfo; it reads prometheus/common/version's
// linker-set variables and changes none of them.
func readBuildInfo() buildInfo {
	info, _ := debug.ReadBuildInfo()
	return newBuildInfo(buildInfo{version: version.Version, revision: version.Revision, branch: version.Branch,
		buildUser: version.BuildUser, buildDate: version.BuildDate}, info, versionFile)
}

// newBuildInfo fills in what the linker left empty in b from Go's build
// information (nil when there is none), then the VERSION file's contents.
func newBuildInfo(b buildInfo, info *debug.BuildInfo, versionFile string) buildInfo {
	var vcsRevision string
	var modified bool
	if info != nil {
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" && !isPseudoVersion(info.Main.Version) {
			b.version = strings.TrimPrefix(info.Main.Version, "v")
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.time":
				b.revisionTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if b.version == "" {
		b.version = strings.TrimSpace(versionFile)
	}
	if b.revision == "" && vcsRevision != "" {
		b.revision = vcsRevision
		if modified {
			b.revision += "-modified"
		}
	}
	if b.revision == "" {
		b.revision = "unknown"
	}
	return b
}

// isPseudoVersion: Go's v0.0.0-20261126101010-abcdefabcdef (+dirty) for an
// untagged commit says less than the VERSION file and the revision.
func isPseudoVersion(v string) bool {
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return false
	}
	ts := parts[len(parts)-2]
	if i := strings.LastIndexByte(ts, '.'); i >= 0 {
		ts = ts[i+1:] // v1.2.4-0.20261126101010-abc
	}
	return len(ts) == 14 && len(parts[len(parts)-1]) == 12
}

// String is the one-line form, for the landing page and the start-up line:
// "0.1.0 (revision 1bf504c…, branch main, built 2026-11-26T10:00:00Z)".
func (b buildInfo) String() string {
	var parts []string
	parts = append(parts, "revision "+b.revision)
	if b.branch != "" {
		parts = append(parts, "branch "+b.branch)
	}
	if b.buildDate != "" {
		parts = append(parts, "built "+b.buildDate)
	} else if b.revisionTime != "" {
		parts = append(parts, "committed "+b.revisionTime)
	}
	return fmt.Sprintf("%s (%s)", b.version, strings.Join(parts, ", "))
}

// Print is --version.
func (b buildInfo) Print(program string) string {
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return fmt.Sprintf(`%s, version %s (branch: %s, revision: %s)
  revision time:    %s
  build user:       %s
  build date:       %s
  go version:       %s
  platform:         %s/%s
  tags:             %s`, program, b.version, orUnknown(b.branch), b.revision, orUnknown(b.revisionTime),
		orUnknown(b.buildUser), orUnknown(b.buildDate), version.GoVersion, version.GoOS, version.GoArch, version.GetTags())
}

// Collector is dispatch_exporter_build_info, labelled from b.
func (b buildInfo) Collector(program string) prometheus.Collector {
	return versioncollector.NewCollector(program, versioncollector.WithExtraConstLabels(prometheus.Labels{
		"version": b.version, "revision": b.revision, "branch": b.branch,
	}))
}
