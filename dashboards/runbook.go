package dashboards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// RunbookURL is the runbook, alerts/RUNBOOK.md, as the alerts' runbook_url
// annotations link to it.
const RunbookURL = "https://github.com/stoneforge/dispatch_exporter/blob/main/alerts/RUNBOOK.md"

// RunbookSection is the URL of alert's section of the runbook: GitHub's
// anchor of its "## <alertname>" heading, the alert's runbook_url.
func RunbookSection(alert string) string {
	return RunbookURL + "#" + strings.ToLower(alert)
}

// link is a dashboard or panel link: the SDK's builder would place it in
// Grafana 12's controls menu, where 10.4 and 11.x show nothing.
type link dashboard.DashboardLink

// Build returns the link.
func (l link) Build() (dashboard.DashboardLink, error) { return dashboard.DashboardLink(l), nil }

func newLink(title, tooltip, url string) link {
	return link{Title: title, Type: dashboard.DashboardLinkTypeLink, Icon: "doc", Tooltip: tooltip,
		Url: &url, Tags: []string{}, TargetBlank: true}
}

// runbookLink is the dashboard's link to the whole runbook.
func runbookLink() link {
	return newLink("Runbook", "What each dispatch alert means and the commands to run", RunbookURL)
}

// runbookLinks are a panel's links to the runbook sections of the alerts
// it shows the evidence of.
func runbookLinks(alerts ...string) []cog.Builder[dashboard.DashboardLink] {
	out := make([]cog.Builder[dashboard.DashboardLink], 0, len(alerts))
	for _, a := range alerts {
		out = append(out, newLink("Runbook: "+a, "", RunbookSection(a)))
	}
	return out
}

// The alerts the panels link to, as alerts/dispatch.rules.yml names them.
const (
	alertWedged             = "DispatchDaemonWedged"
	alertWedgedUnwatched    = "DispatchDaemonWedgedUnwatched"
	alertLoopUnwatched      = "DispatchLoopUnwatched"
	alertRestartsNotHelping = "DispatchRestartsNotHelping"
	alertRestartsRecurring  = "DispatchRestartsRecurring"
	alertQueueStuck         = "DispatchQueueStuck"
	alertStatusDown         = "DispatchStatusDown"
	alertStatusDownLong     = "DispatchStatusDownLong"
	alertExporterDown       = "DispatchExporterDown"
	alertExporterAbsent     = "DispatchExporterAbsent"
	alertStopped            = "DispatchDaemonStopped"
	alertCyclesFailing      = "DispatchCyclesFailing"
	alertRateLimitPaused    = "DispatchRateLimitPaused"
	alertRateLimitPastReset = "DispatchRateLimitPausedPastReset"
	alertVerdictDisagrees   = "DispatchVerdictDisagrees"
	alertConfigReloadFailed = "DispatchExporterConfigReloadFailed"
)
