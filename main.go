// Command dispatch_exporter exports the health of a dispatch daemon's poll
// loop to Prometheus: as a sidecar reading a smithy-compatible status
// endpoint, or (--demo) for a simulated daemon running in process.
//
// The program is package collector/server's Run: flags → parse → logger →
// handlers → serve. main gives it the process's arguments, output and
// signals, and the version when the linker gave none.
package main

import (
	"context"
	_ "embed" // the VERSION file
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/common/version"

	"github.com/stoneforge/dispatch_exporter/collector/server"
)

// versionFile is the one version source: make build, release and docker
// pass it to the linker as github.com/prometheus/common/version.Version, the
// Kubernetes manifests name the image by it, and a build without linker
// flags (go run, go build, go install) takes it from here.
//
//go:embed VERSION
var versionFile string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if version.Version == "" { // no -ldflags -X .../version.Version=...
		version.Version = strings.TrimSpace(versionFile)
	}
	os.Exit(server.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
