// Package dashboards builds the Grafana dashboard for dispatch loops as code
// (grafana-foundation-sdk). dispatch.json is generated from it: run
// `go generate ./dashboards` after a change; a test fails while the
// committed JSON differs.
package dashboards

//go:generate go run ./generate

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's stable uid: links to it survive re-imports.
const UID = "dispatch-loops"

func q(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend)
}

func ds() common.DataSourceRef {
	t, uid := "prometheus", "${datasource}"
	return common.DataSourceRef{Type: &t, Uid: &uid}
}

func str(s string) *string { return &s }

func mapping(value int, text, color string) dashboard.ValueMapping {
	return dashboard.ValueMapping{ValueMap: &dashboard.ValueMap{
		Type:    dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{fmt.Sprint(value): {Text: str(text), Color: str(color)}},
	}}
}

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func step(value *float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: value, Color: color}
}

func num(v float64) *float64 { return &v }

// labelVariable is a multi-value variable of a label's values; all is its
// "All" value, or with "", the alternation of every value Grafana listed.
func labelVariable(name, label, query, all string) *dashboard.QueryVariableBuilder {
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: str(query)}).
		Datasource(ds()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true)
	if all != "" {
		b = b.AllValue(all)
	}
	return b
}

// SchemaVersion is the classic dashboard schema the JSON declares: 39, Grafana
// 10.4's and 11.0's, the oldest releases it supports (10.4, 11.x, 12.x).
// Grafana migrates a dashboard up from an older schema when it loads it, but
// an older Grafana cannot read a newer one, so the SDK's 42 (Grafana 12.1)
// would shut out 10.4 and 11.x. Nothing here needs a later schema.
const SchemaVersion = 39

// Dispatch builds the dashboard. It uses the classic dashboard model
// (SchemaVersion), which the SDK marks deprecated in favour of the v2
// schema: v2 still needs feature toggles in Grafana 12, while the classic
// JSON imports and provisions everywhere.
func Dispatch() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("Dispatch loops").
		Uid(UID).
		Description("Is a dispatch daemon's poll loop wedged, is its queue stuck: dispatch_exporter's heir to smithy's banner.").
		Tags([]string{"dispatch", "dispatch_exporter"}).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(runbookLink()).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		// Optional: without a cluster label it lists nothing, and its "All"
		// (.*) matches series that carry none.
		WithVariable(labelVariable("cluster", "Cluster", "label_values(dispatch_up, cluster)", ".*")).
		// No ".*" for All: the State tile reads up{job=~"$job"}, which must
		// be the dispatch jobs' targets, not every target of the Prometheus.
		WithVariable(labelVariable("job", "Job", `label_values(dispatch_up{cluster=~"$cluster"}, job)`, "")).
		WithVariable(labelVariable("instance", "Instance", `label_values(dispatch_up{cluster=~"$cluster", job=~"$job"}, instance)`, ".*")).
		WithVariable(labelVariable("loop", "Loop", `label_values(dispatch_up{cluster=~"$cluster", job=~"$job", instance=~"$instance"}, loop)`, ".*")).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Dispatch alerts").
			Datasource(ds()).
			Enable(true).
			IconColor("red").
			Expr(AnnotationQuery()).
			Step("30s").
			TitleFormat("{{alertname}}").
			TextFormat("{{instance}} {{loop}} ({{severity}})").
			TagKeys("alertname,severity,cluster,instance,loop"))

	b.WithRow(dashboard.NewRowBuilder("Status: the banner"))
	b.WithPanel(stat.NewPanelBuilder().
		Title("State").
		Description("One tile per loop: WEDGED (no cycle completed within the threshold; restart the daemon's process), DOWN (the daemon's status cannot be read), STUCK (ready tasks, no worker), STOPPED, OK; the first that holds wins. " +
			"One tile per exporter whose loops cannot be seen: EXPORTER DOWN (Prometheus cannot scrape it), NOT SCRAPED (scraped within the last " + notScrapedWindow + ", no longer: its pod or target is gone). " +
			"Nothing scraped at all for the selection shows NOT SCRAPED alone.").
		Datasource(ds()).
		WithTarget(q(StateQuery(), "{{instance}} {{loop}}").Instant()).
		Mappings([]dashboard.ValueMapping{
			mapping(stateWedged, "WEDGED", "red"),
			mapping(stateStuck, "STUCK", "orange"),
			mapping(stateDown, "DOWN", "#8e8e8e"),
			mapping(stateStopped, "STOPPED", "blue"),
			mapping(stateOK, "OK", "green"),
			mapping(stateExporterDown, "EXPORTER DOWN", "purple"),
			mapping(stateNotScraped, "NOT SCRAPED", "purple"),
		}).
		NoValue(noSeriesText).
		ColorMode(common.BigValueColorModeBackgroundSolid).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertWedged, alertWedgedUnwatched, alertQueueStuck, alertStatusDown, alertStopped, alertExporterDown, alertExporterAbsent, alertLoopUnwatched)).
		Height(5).Span(12))
	b.WithPanel(stat.NewPanelBuilder().
		Title("No cycle completed for, of the threshold").
		Description("Time since the latest completed poll cycle as a share of the same loop's staleness threshold (dispatch_poll_stale_threshold_seconds): amber past half of it, red at 100%, which is what WEDGED means. The panel below shows both in seconds.").
		Datasource(ds()).
		WithTarget(q(SinceCompletedOfThresholdQuery(), "{{instance}} {{loop}}").Instant()).
		Unit("percentunit").Decimals(0).Min(0).
		Thresholds(thresholds(step(nil, "green"), step(num(0.5), "orange"), step(num(1), "red"))).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertWedged)).
		Height(5).Span(6))
	// Amber means trouble, not a busy queue. The exporter sees counts, not
	// how long any one task has waited: a queue that always holds a few
	// ready tasks may be a busy one whose workers are all at work (they
	// count as available) and take each task within a cycle, so neither
	// a count above 1 nor a count that stays above 0 for N minutes says a
	// task waits too long. What does is the stuck flag: ready tasks and no
	// available worker, nothing will take them (STUCK on the State tile,
	// DispatchQueueStuck after 5m). So the count is green however high,
	// and amber exactly while the queue is stuck: the stuck loops' count
	// is its own query, coloured by its refId.
	b.WithPanel(stat.NewPanelBuilder().
		Title("Ready tasks waiting").
		Description("Ready tasks no worker has taken yet, per loop: green while a worker is available to take them (however many wait; a busy queue holds some), amber while none is (the queue is stuck; DispatchQueueStuck warns after 5m).").
		Datasource(ds()).
		WithTarget(q(ReadyTasksQuery(), "{{instance}} {{loop}}").Instant()).
		WithTarget(q(StuckReadyTasksQuery(), "{{instance}} {{loop}} no worker").Instant()).
		Decimals(0).
		Thresholds(thresholds(step(nil, "green"))).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "color", Value: dashboard.FieldColor{Mode: dashboard.FieldColorModeIdFixed, FixedColor: str("orange")}}}).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertQueueStuck)).
		Height(5).Span(6))

	b.WithRow(dashboard.NewRowBuilder("Loop"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Time since last completed cycle vs threshold").
		Description("The loop is stale when the first line crosses the second.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`time() - dispatch_poll_last_completed_seconds{%s}`, selector), "{{instance}} {{loop}} since completed")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale_threshold_seconds{%s}`, selector), "{{instance}} {{loop}} threshold")).
		Unit("s").Min(0).
		Links(runbookLinks(alertWedged)).
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Wedged, stuck, in flight").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale{%s}`, selector), "{{instance}} {{loop}} wedged")).
		WithTarget(q(fmt.Sprintf(`dispatch_stuck_queue{%s}`, selector), "{{instance}} {{loop}} stuck")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_in_flight{%s}`, selector), "{{instance}} {{loop}} in flight")).
		Min(0).Max(1).
		Links(runbookLinks(alertWedged, alertQueueStuck)).
		Height(8).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Queue"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Ready unassigned tasks vs available workers").
		Description("The queue is stuck while tasks wait and no worker is available.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_ready_unassigned_tasks{%s}`, selector), "{{instance}} {{loop}} ready tasks")).
		WithTarget(q(fmt.Sprintf(`dispatch_available_workers{%s}`, selector), "{{instance}} {{loop}} workers")).
		Min(0).Decimals(0).
		Links(runbookLinks(alertQueueStuck)).
		Height(8).Span(24))

	b.WithRow(dashboard.NewRowBuilder("The daemon's own word (sidecar)"))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Rate-limit pause").
		Description("Whether the daemon says every executable is rate-limited (rateLimit.isPaused): dispatch is paused on purpose until the soonest limit resets.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_rate_limit_paused{%s}`, selector), "{{instance}} {{loop}}").Instant()).
		Mappings([]dashboard.ValueMapping{mapping(0, "dispatching", "green"), mapping(1, "PAUSED", "orange")}).
		ColorMode(common.BigValueColorModeBackgroundSolid).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertRateLimitPaused, alertRateLimitPastReset)).
		Height(5).Span(8))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Soonest rate-limit reset in").
		Description("Time until the soonest rate limit resets (rateLimit.soonestReset), whether or not dispatch is paused. Negative, in amber: that time has passed and the daemon still reports it; while paused, DispatchRateLimitPausedPastReset.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_rate_limit_soonest_reset_seconds{%s} - time()`, selector), "{{instance}} {{loop}}").Instant()).
		Unit("s").
		Thresholds(thresholds(step(nil, "orange"), step(num(0), "green"))).
		NoValue("no limit set").
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertRateLimitPastReset)).
		Height(5).Span(8))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Daemon available").
		Description("Whether the server has a dispatch daemon at all (smithy's available). Without one the State tile says STOPPED: nothing runs, nothing is dispatched.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_daemon_available{%s}`, selector), "{{instance}} {{loop}}").Instant()).
		Mappings([]dashboard.ValueMapping{mapping(1, "available", "green"), mapping(0, "NO DAEMON", "blue")}).
		ColorMode(common.BigValueColorModeBackgroundSolid).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertStopped)).
		Height(5).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("The daemon's own view").
		Description("The daemon's own pollStale (smithy's banner; it false-alarms on a stopped loop) beside wedged as we judge it, and 1 wherever they disagree. A lasting disagreement raises DispatchVerdictDisagrees. The rate-limit pause and the daemon's availability are the tiles above.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_daemon_reported_stale{%s}`, selector), "{{instance}} {{loop}} daemon says stale")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale{%s} and dispatch_daemon_reported_stale{%s}`, selector, selector), "{{instance}} {{loop}} wedged (ours)")).
		WithTarget(q(fmt.Sprintf(`dispatch_daemon_reported_stale{%s} != bool dispatch_poll_stale{%s}`, selector, selector), "{{instance}} {{loop}} disagree")).
		Min(0).Max(1).Decimals(0).
		Links(runbookLinks(alertVerdictDisagrees, alertWedged)).
		Height(8).Span(24))

	b.WithRow(dashboard.NewRowBuilder("Cycles (in-process loops)"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Cycle duration").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`histogram_quantile(0.99, sum by (le, cluster, job, instance, loop) (rate(dispatch_poll_cycle_duration_seconds_bucket{%s}[$__rate_interval])))`, selector), "{{instance}} {{loop}} p99")).
		WithTarget(q(fmt.Sprintf(`histogram_quantile(0.5, sum by (le, cluster, job, instance, loop) (rate(dispatch_poll_cycle_duration_seconds_bucket{%s}[$__rate_interval])))`, selector), "{{instance}} {{loop}} p50")).
		Unit("s").Min(0).
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Cycle outcomes").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`sum by (cluster, job, instance, loop, result) (rate(dispatch_poll_cycles_total{%s}[$__rate_interval]))`, selector), "{{instance}} {{loop}} {{result}}")).
		Unit("ops").Min(0).
		Links(runbookLinks(alertCyclesFailing)).
		Height(8).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Status endpoint and restarts (sidecar)"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status request latency").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_status_request_duration_seconds{%s}`, selector), "{{instance}} {{loop}}")).
		Unit("s").Min(0).
		Links(runbookLinks(alertStatusDown)).
		Height(8).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status request failures").
		Description("Failed status requests per second, by reason.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`sum by (cluster, job, instance, loop, reason) (rate(dispatch_status_request_failures_total{%s}[$__rate_interval]))`, selector), "{{instance}} {{loop}} {{reason}}")).
		Unit("reqps").Min(0).
		Links(runbookLinks(alertStatusDown, alertStatusDownLong)).
		Height(8).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status readable (up)").
		Description("1 while the scrape read a usable status, 0 when it did not (DOWN, or WEDGED when the daemon hangs).").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_up{%s}`, selector), "{{instance}} {{loop}} up")).
		Min(0).Max(1).Decimals(0).
		Links(runbookLinks(alertStatusDown, alertStatusDownLong)).
		Height(8).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Restart requests in the last hour").
		Description("Restarts /-/target/healthy asked the kubelet (or systemd) for, by reason: hang (the daemon's server hangs) or stale (its answers show a wedged loop). None in shadow mode.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`sum by (cluster, job, instance, loop, reason) (increase(dispatch_liveness_restart_requests_total{%s}[1h]))`, selector), "{{instance}} {{loop}} {{reason}}")).
		Min(0).Decimals(0).
		Links(runbookLinks(alertRestartsRecurring, alertRestartsNotHelping)).
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Restart budget spent").
		Description("1 once restarts brought no completed cycle back: liveness stops asking for them until a cycle completes, and DispatchRestartsNotHelping pages.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_liveness_restart_budget_spent{%s}`, selector), "{{instance}} {{loop}} budget spent")).
		Min(0).Max(1).Decimals(0).
		Links(runbookLinks(alertRestartsNotHelping)).
		Height(8).Span(12))
	b.WithRow(dashboard.NewRowBuilder("Exporter"))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Exporter build").
		Description("dispatch_exporter's version and revision on each target (dispatch_exporter_build_info). The daemon's status names no version of its own.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_exporter_build_info{%s}`, targetSelector), "{{instance}}: {{version}} ({{revision}}, {{goversion}})").Instant()).
		ColorMode(common.BigValueColorModeNone).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Height(4).Span(18))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Config reload").
		Description("Whether the exporter's last reload of its config file (SIGHUP, POST /-/reload) succeeded; after a failure the previous config stays in force. Sidecars only.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_exporter_config_last_reload_successful{%s}`, targetSelector), "{{instance}}").Instant()).
		Mappings([]dashboard.ValueMapping{mapping(1, "loaded", "green"), mapping(0, "RELOAD FAILED", "orange")}).
		ColorMode(common.BigValueColorModeBackgroundSolid).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Links(runbookLinks(alertConfigReloadFailed)).
		Height(4).Span(6))
	d, err := b.Build()
	if err != nil {
		return d, err
	}
	d.SchemaVersion = SchemaVersion
	number(&d)
	return d, nil
}

// number gives every panel a stable id and every query a refId (A, B, ...),
// which Grafana needs to tell a panel's queries apart.
func number(d *dashboard.Dashboard) {
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		if p.RowPanel != nil {
			p.RowPanel.Id = id
			continue
		}
		panelID := id
		p.Panel.Id = &panelID
		for i, t := range p.Panel.Targets {
			if pq, ok := t.(prometheus.Dataquery); ok {
				pq.RefId = str(string(rune('A' + i)))
				p.Panel.Targets[i] = pq
			}
		}
	}
}

// JSON is the dashboard as Grafana imports it: indented, ending in a newline.
func JSON() ([]byte, error) {
	d, err := Dispatch()
	if err != nil {
		return nil, fmt.Errorf("build dashboard: %w", err)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	return append(out, '\n'), nil
}
