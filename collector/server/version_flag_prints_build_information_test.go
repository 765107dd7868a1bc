package server

import (
	"context"
	"testing"

	"github.com/prometheus/common/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestVersionFlagPrintsBuildInformation: --version prints
// prometheus/common/version's build information (what main and the linker
// set; e2e checks the built binary's) and ends Run with 0, serving nothing.
func TestVersionFlagPrintsBuildInformation(t *testing.T) {
	t.Parallel()
	var out dispatchtest.Logs
	require.Equal(t, 0, Run(context.Background(), []string{"--version", "--web.listen-address=127.0.0.1:0"}, &out, &out))
	assert.Equal(t, version.Print("dispatch_exporter")+"\n", out.String())
	assert.Contains(t, out.String(), "dispatch_exporter, version ")
	assert.Contains(t, out.String(), "go version:       "+version.GoVersion)
}
