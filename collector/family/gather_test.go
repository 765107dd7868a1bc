package family_test

import (
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// collectorOf is a collector of one sample, as a registry needs it.
type collectorOf struct {
	set *family.Set
	s   family.Sample
}

func (c collectorOf) Describe(ch chan<- *prometheus.Desc) { c.set.Describe(ch, true) }
func (c collectorOf) Collect(ch chan<- prometheus.Metric) { c.set.Collect(ch, c.s) }

// viaRegistry gathers s through a pedantic registry: the reference for
// what Sample.Gather builds without one.
func viaRegistry(t *testing.T, s family.Sample) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(collectorOf{family.NewSet(), s}))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return mfs
}

// everyFamily is a sample in which every family has series: an observed
// loop with a stuck queue, cycle stats with a histogram, and a sidecar's
// status with a rate limit.
func everyFamily(t *testing.T, loop string) family.Sample {
	t.Helper()
	body, err := os.ReadFile("../../dispatch/smithy/testdata/samples/stuck.json")
	require.NoError(t, err)
	st, err := smithy.Decode(body)
	require.NoError(t, err)
	reset := smithy.Timestamp(time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC))
	st.RateLimit = &smithy.RateLimit{IsPaused: true, SoonestReset: &reset}
	now := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	h := &dispatch.Health{Now: now, LastStarted: now.Add(-2 * time.Second), LastCompleted: now.Add(-time.Second),
		Running: true, Interval: 5 * time.Second, Observed: true, QueueKnown: true, ReadyUnassignedTasks: 3}
	buckets := map[float64]uint64{}
	for i, b := range dispatch.CycleDurationBuckets() {
		buckets[b] = uint64(i)
	}
	return family.Sample{
		Labels:     family.NewLabels(loop),
		Health:     h,
		Assessment: dispatch.Decide(dispatch.Look{Evidence: dispatch.EvidenceUsable, Health: h}),
		Stats:      &dispatch.CycleStats{Results: [3]uint64{7, 2, 1}, Count: 20, SumSeconds: 1.25, Buckets: buckets},
		Status: &family.Status{Duration: 12 * time.Millisecond, Failures: [family.NumReasons]uint64{1, 2, 3, 4, 5, 6, 7},
			Restarts: [2]uint64{1, 0}, BudgetSpent: true, Body: st},
	}
}

// TestGatherIsWhatARegistryGathers: a sample's families, built without a
// registry, are the messages a registry gathers from the same sample's
// Collect: same families in the same order, same types and help, series
// sorted by label values, histogram buckets sorted by bound. From every
// family present down to a loop never read.
func TestGatherIsWhatARegistryGathers(t *testing.T) {
	t.Parallel()
	full := everyFamily(t, "dispatch")
	inProcess := full
	inProcess.Status = nil
	sidecar := full
	sidecar.Stats = nil
	unread := family.Sample{Labels: family.NewLabels("dispatch"), Assessment: dispatch.Decide(dispatch.Look{})}
	for name, s := range map[string]family.Sample{"every family": full, "in process": inProcess, "sidecar": sidecar, "never read": unread} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := viaRegistry(t, s)
			got, err := s.Gather()
			require.NoError(t, err)
			require.Len(t, got, len(want))
			for i := range want {
				assert.True(t, proto.Equal(want[i], got[i]), "family %d:\nwant %v\ngot  %v", i, want[i], got[i])
			}
		})
	}
	got, err := full.Gather()
	require.NoError(t, err)
	assert.Len(t, got, len(family.Names())-len(family.ExporterNames()), "every family but the exporter's own")
}

// TestLoopNameNotUTF8: a loop name that is not valid UTF-8 (any string a
// daemon chose) is exported with its invalid bytes replaced, through a
// registry (which would refuse the series) and without one.
func TestLoopNameNotUTF8(t *testing.T) {
	t.Parallel()
	s := everyFamily(t, "bad\xffname")
	mfs := viaRegistry(t, s)
	got, err := s.Gather()
	require.NoError(t, err)
	for _, fams := range [][]*dto.MetricFamily{mfs, got} {
		require.NotEmpty(t, fams)
		for _, mf := range fams {
			for _, m := range mf.Metric {
				assert.Equal(t, "bad\uFFFDname", m.Label[0].GetValue(), mf.GetName())
			}
		}
	}
}
