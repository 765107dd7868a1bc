package handler

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// collectorOf is a collector of one sample, for a registry.
type collectorOf struct {
	set *family.Set
	s   family.Sample
}

func (c collectorOf) Describe(ch chan<- *prometheus.Desc) { c.set.Describe(ch, false) }
func (c collectorOf) Collect(ch chan<- prometheus.Metric) { c.set.Collect(ch, c.s) }

// TestProbeGathersWhatARegistryGathers: for every sample smithy answer, an
// answer that is not a status and a daemon that hangs, and a second probe
// after each (counters and history moved), a probe's families gathered
// without a registry are what a registry holding the probe gathers.
func TestProbeGathersWhatARegistryGathers(t *testing.T) {
	t.Parallel()
	samples, err := filepath.Glob("../../dispatch/smithy/testdata/samples/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	bodies := map[string]string{"garbage": "not json", "hang": ""}
	for _, s := range samples {
		b, err := os.ReadFile(s)
		require.NoError(t, err)
		bodies[filepath.Base(s)] = string(b)
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			daemon := dispatchtest.NewServer(t, body)
			if name == "hang" {
				daemon.Hang()
			}
			targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 100 * time.Millisecond})
			require.NoError(t, targets.Apply(sidecar.SingleTarget(daemon.URL)))
			tgt, ok := targets.Get(sidecar.DefaultTargetName)
			require.True(t, ok)
			for range 2 {
				probe := tgt.Probe(context.Background())
				reg := prometheus.NewPedanticRegistry()
				require.NoError(t, reg.Register(probe))
				want, err := reg.Gather()
				require.NoError(t, err)
				got, err := probe.Gather()
				require.NoError(t, err)
				require.Len(t, got, len(want))
				for i := range want {
					assert.Equal(t, want[i].String(), got[i].String())
				}
			}
		})
	}
}
