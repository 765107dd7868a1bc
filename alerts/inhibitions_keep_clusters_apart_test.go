package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInhibitionsKeepClustersApart runs alertmanager.yml's inhibit rules
// in a real Alertmanager: a wedge mutes the stuck queue of the same loop in
// its own cluster only; without a cluster label on either side the rules
// work as before (a missing label equals a missing one), while a label on
// one side only is unequal; the whole job gone mutes the per-loop
// "unwatched" warnings of its cluster.
func TestInhibitionsKeepClustersApart(t *testing.T) {
	t.Parallel()
	am := startAlertmanager(t, "alertmanager.yml")
	sev := severities(t)
	type c struct {
		labels    map[string]string
		inhibited bool
	}
	cases := []c{
		{alertLabels(t, sev, "DispatchDaemonWedged", "eu", "a:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchQueueStuck", "eu", "a:9847", "dispatch"), true},
		{alertLabels(t, sev, "DispatchQueueStuck", "us", "a:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchDaemonWedged", "", "b:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchQueueStuck", "", "b:9847", "dispatch"), true},
		{alertLabels(t, sev, "DispatchQueueStuck", "eu", "b:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchExporterAbsent", "eu", "", ""), false},
		{alertLabels(t, sev, "DispatchLoopUnwatched", "eu", "c:9847", "dispatch"), true},
		{alertLabels(t, sev, "DispatchLoopUnwatched", "us", "c:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchDaemonWedgedUnwatched", "us", "d:9847", "dispatch"), false},
		{alertLabels(t, sev, "DispatchLoopUnwatched", "us", "d:9847", "dispatch"), true},
	}
	var all []map[string]string
	want := map[string]bool{}
	for _, c := range cases {
		all = append(all, c.labels)
		want[key(c.labels)] = c.inhibited
	}
	am.post(t, all...)

	got := map[string]bool{}
	require.Eventually(t, func() bool {
		var alerts []amAlert
		am.get(t, "/api/v2/alerts", &alerts)
		got = map[string]bool{}
		for _, a := range alerts {
			got[key(a.Labels)] = len(a.Status.InhibitedBy) > 0
		}
		return assert.ObjectsAreEqual(want, got)
	}, 10*time.Second, 100*time.Millisecond, "inhibited alerts settle as expected")
	assert.Equal(t, want, got)
}
