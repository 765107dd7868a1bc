// Package familytest reads what a collector exports, for tests: each series
// by name and labels, and a value only once its series is known to exist.
package familytest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
)

// Values gathers c through a pedantic registry and returns each sample as
// name{label=value,...} with every label but loop, sorted; a histogram's
// value is its sample count.
func Values(t testing.TB, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if l.GetName() != family.LoopLabel {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
			}
			sort.Strings(labels)
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				panic(fmt.Sprintf("unexpected metric type in %s", key))
			}
		}
	}
	return out
}

// ValueOf requires the series key to exist in v, then returns its value: a
// series that vanished never passes for a 0.
func ValueOf(t testing.TB, v map[string]float64, key string) float64 {
	t.Helper()
	require.Contains(t, v, key, "the series must exist before its value counts")
	return v[key]
}

// Golden opens testdata/name, an expected exposition for
// testutil.CollectAndCompare, so that tests compare against files rather
// than text copied inline.
func Golden(t testing.TB, name string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return bytes.NewReader(b)
}
