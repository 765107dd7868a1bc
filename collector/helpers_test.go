package collector

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

// values gathers c and returns each sample as name{label values but loop}.
func values(t *testing.T, c prometheus.Collector) map[string]float64 {
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
				if l.GetName() != LoopLabel {
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

// valueOf requires the series key to exist in v, then returns its value:
// a series that vanished never passes for a 0.
func valueOf(t *testing.T, v map[string]float64, key string) float64 {
	t.Helper()
	require.Contains(t, v, key, "the series must exist before its value counts")
	return v[key]
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
