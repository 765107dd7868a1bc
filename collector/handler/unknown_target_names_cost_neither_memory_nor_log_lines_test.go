package handler

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnknownTargetNamesCostNeitherMemoryNorLogLines: 2,000 liveness
// probes, each for a different unknown name of 20 KB (40 MB of names), are
// counted, answered 200 with the name cut short, and logged once a minute:
// nothing is kept per name.
func TestUnknownTargetNamesCostNeitherMemoryNorLogLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "unknown_total", Help: "Unknown target requests."})
	f.side.UnknownTargets = unknown
	const names, size = 2000, 20 << 10

	heapBefore := heapAfterGC()
	for i := range names {
		name := fmt.Sprintf("%05d", i) + strings.Repeat("n", size-5) // each one different
		code, body := get(t, f.side.TargetHealthy, "/-/target/healthy?target="+name)
		require.Equal(t, 200, code)
		require.Contains(t, body, "fail open")
		require.Less(t, len(body), maxEchoedName+200, "the name is cut short in the answer")
		require.Contains(t, body, "(20480 bytes)", "and the answer says how long it was")
		if i == names/2 {
			f.clock.Add(unknownLogInterval) // a minute into the run
		}
	}
	heapGrowth := int64(heapAfterGC()) - int64(heapBefore)

	assert.Equal(t, float64(names), testutil.ToFloat64(unknown), "every request counted")
	lines := f.logs.Count("no configured target")
	assert.Equal(t, 2, lines, "a line at once and one a minute later: %.2000s", f.logs)
	assert.Less(t, len(f.logs.String()), 2*(maxEchoedName+400), "each line holds the name cut short")
	assert.Equal(t, 1, f.logs.Count("requests_since_last_line=1001 "), "the second line counts what the first left out: %.2000s", f.logs)
	assert.Less(t, heapGrowth, int64(names*size/4), "no name is kept: the heap grows by %d bytes", heapGrowth)
	assert.Zero(t, f.daemon.Hits(), "nothing fetched")
}

// TestUnknownProbeTargetsAreCounted: /probe refuses a name it does not
// know, or none without a default target, with 400, and counts it, as
// /-/target/healthy does; a configured name is not counted.
func TestUnknownProbeTargetsAreCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	unknown := prometheus.NewCounter(prometheus.CounterOpts{Name: "unknown_total", Help: "Unknown target requests."})
	f.side.UnknownTargets = unknown
	for _, name := range []string{"b", "c", "b"} {
		code, _ := get(t, f.side.Probe, "/probe?target="+name)
		require.Equal(t, 400, code)
	}
	code, body := get(t, f.side.Probe, "/probe")
	require.Equal(t, 400, code)
	require.Contains(t, body, "target parameter is missing")
	code, _ = get(t, f.side.TargetHealthy, "/-/target/healthy")
	require.Equal(t, 200, code, "fail open")
	assert.Equal(t, 5.0, testutil.ToFloat64(unknown))

	f.daemon.Answer(status(0, at(0)))
	code, _ = get(t, f.side.Probe, "/probe?target=a")
	require.Equal(t, 200, code)
	assert.Equal(t, 5.0, testutil.ToFloat64(unknown), "a configured target is not counted")
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
