package alerts

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// severities is each alert's severity label, from dispatch.rules.yml.
func severities(t *testing.T) map[string]string {
	t.Helper()
	s := map[string]string{}
	for _, r := range loadAlerts(t) {
		s[r.Alert] = r.Labels["severity"]
	}
	return s
}

// alertLabels is what the rules put on an alert: its name, severity and
// the exporter label, the target's labels (cluster when not empty), and
// loop unless empty (the up-based alerts carry none).
func alertLabels(t *testing.T, sev map[string]string, name, cluster, instance, loop string) map[string]string {
	t.Helper()
	require.Contains(t, sev, name)
	l := map[string]string{"alertname": name, "severity": sev[name], "exporter": "dispatch_exporter", "job": "dispatch"}
	for k, v := range map[string]string{"cluster": cluster, "instance": instance, "loop": loop} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

// TestFleetOutagePagesOnce runs alertmanager.yml in a real Alertmanager:
// twenty sidecars of a cluster down at once make one notification per
// alert, not twenty, and another cluster's outage is its own; wedges of
// distinct loops page apart, and a loop's wedge and its unwatched successor
// share one page, so the pager never hears RESOLVED between them.
func TestFleetOutagePagesOnce(t *testing.T) {
	t.Parallel()
	am := startAlertmanager(t, "alertmanager.yml")
	sev := severities(t)
	var alerts []map[string]string
	for i := range 20 {
		inst := fmt.Sprintf("smithy-%02d:9847", i)
		alerts = append(alerts,
			alertLabels(t, sev, "DispatchExporterDown", "eu", inst, ""),
			alertLabels(t, sev, "DispatchStatusDownLong", "eu", inst, "dispatch"))
	}
	for i := range 3 {
		alerts = append(alerts, alertLabels(t, sev, "DispatchExporterDown", "us", fmt.Sprintf("smithy-%02d:9847", i), ""))
		alerts = append(alerts, alertLabels(t, sev, "DispatchDaemonWedged", "eu", fmt.Sprintf("wedged-%d:9847", i), "dispatch"))
	}
	alerts = append(alerts, alertLabels(t, sev, "DispatchDaemonWedgedUnwatched", "eu", "wedged-0:9847", "dispatch"))
	am.post(t, alerts...)

	got := map[string]string{} // group → receiver and the alertnames it holds
	for _, g := range am.groups(t, len(alerts)) {
		names := map[string]int{}
		for _, a := range g.Alerts {
			names[a.Labels["alertname"]]++
		}
		var parts []string
		for n, c := range names {
			parts = append(parts, fmt.Sprintf("%s %d", n, c))
		}
		sort.Strings(parts)
		got[key(g.Labels)] = g.Receiver.Name + " " + strings.Join(parts, ",")
	}
	want := map[string]string{
		key(map[string]string{"alertname": "DispatchExporterDown", "cluster": "eu", "job": "dispatch"}):             "dispatch-chat DispatchExporterDown 20",
		key(map[string]string{"alertname": "DispatchStatusDownLong", "cluster": "eu", "job": "dispatch"}):           "dispatch-pager DispatchStatusDownLong 20",
		key(map[string]string{"alertname": "DispatchExporterDown", "cluster": "us", "job": "dispatch"}):             "dispatch-chat DispatchExporterDown 3",
		key(map[string]string{"cluster": "eu", "job": "dispatch", "instance": "wedged-0:9847", "loop": "dispatch"}): "dispatch-pager DispatchDaemonWedged 1,DispatchDaemonWedgedUnwatched 1",
		key(map[string]string{"cluster": "eu", "job": "dispatch", "instance": "wedged-1:9847", "loop": "dispatch"}): "dispatch-pager DispatchDaemonWedged 1",
		key(map[string]string{"cluster": "eu", "job": "dispatch", "instance": "wedged-2:9847", "loop": "dispatch"}): "dispatch-pager DispatchDaemonWedged 1",
	}
	assert.Equal(t, want, got)
}
