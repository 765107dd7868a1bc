// Package dashboards builds the Grafana dashboard for dispatch loops as code
// (grafana-foundation-sdk). dispatch.json is generated from it: run
// `go generate ./dashboards` after a change; a test fails while the
// committed JSON differs.
package dashboards

//go:generate go run ./generate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's stable uid: links to it survive re-imports.
const UID = "dispatch-loops"

// selector is what every query selects, from the dashboard's variables.
const selector = `job=~"$job", instance=~"$instance", loop=~"$loop"`

// States of the banner panel: the query's value for each.
const (
	stateStopped = -1
	stateOK      = 0
	stateStuck   = 1
	stateDown    = 2
	stateWedged  = 3
)

// StateQuery is the banner as PromQL: one series per loop whose value is
// its state. `or` keeps the left-most match per loop, so the order is the
// priority: wedged, down, stuck, stopped, ok, as dispatch.Verdict.State.
// Each term maps its filter's value to the state's (and drops the metric
// name, so the terms' label sets match).
func StateQuery() string {
	term := func(filter string, state int) string {
		return fmt.Sprintf("(%s) * 0 + %d", filter, state)
	}
	return strings.Join([]string{
		term(`dispatch_poll_stale{`+selector+`} == 1`, stateWedged),
		term(`dispatch_up{`+selector+`} == 0`, stateDown),
		term(`dispatch_stuck_queue{`+selector+`} == 1`, stateStuck),
		term(`dispatch_daemon_running{`+selector+`} == 0`, stateStopped),
		term(`dispatch_up{`+selector+`}`, stateOK),
	}, "\n  or ")
}

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

func labelVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: str(query)}).
		Datasource(ds()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*")
}

// SchemaVersion is the classic dashboard schema the JSON declares: 39, Grafana
// 10.4's and 11.0's, the oldest releases it supports (10.4, 11.x, 12.x).
// Grafana migrates a dashboard up from an older schema when it loads it, but
// an older Grafana cannot read a newer one, so the SDK's 42 (Grafana 12.1)
// would shut out 10.4 and 11.x. Nothing here needs a later schema.
const SchemaVersion = 39

// SinceCompletedOfThresholdQuery is time since the last completed cycle as
// a share of the same loop's staleness threshold: 1 is WEDGED, whatever the
// threshold of each loop.
func SinceCompletedOfThresholdQuery() string {
	return fmt.Sprintf(`(time() - dispatch_poll_last_completed_seconds{%s}) / dispatch_poll_stale_threshold_seconds{%s}`, selector, selector)
}

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
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(labelVariable("job", "Job", "label_values(dispatch_up, job)")).
		WithVariable(labelVariable("instance", "Instance", `label_values(dispatch_up{job=~"$job"}, instance)`)).
		WithVariable(labelVariable("loop", "Loop", `label_values(dispatch_up{job=~"$job", instance=~"$instance"}, loop)`)).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Dispatch alerts").
			Datasource(ds()).
			Enable(true).
			IconColor("red").
			Expr(`ALERTS{alertstate="firing", alertname=~"Dispatch.*", job=~"$job"}`).
			Step("30s").
			TitleFormat("{{alertname}}").
			TextFormat("{{instance}} {{loop}} ({{severity}})").
			TagKeys("alertname,severity,instance,loop"))

	b.WithRow(dashboard.NewRowBuilder("Status: the banner"))
	b.WithPanel(stat.NewPanelBuilder().
		Title("State").
		Description("One tile per loop: WEDGED (no cycle completed within the threshold; restart the daemon's process), DOWN (its status cannot be read), STUCK (ready tasks, no worker), STOPPED, OK. Wedged wins when both hold.").
		Datasource(ds()).
		WithTarget(q(StateQuery(), "{{instance}} {{loop}}").Instant()).
		Mappings([]dashboard.ValueMapping{
			mapping(stateWedged, "WEDGED", "red"),
			mapping(stateDown, "DOWN", "#8e8e8e"),
			mapping(stateStuck, "STUCK", "orange"),
			mapping(stateStopped, "STOPPED", "blue"),
			mapping(stateOK, "OK", "green"),
		}).
		ColorMode(common.BigValueColorModeBackgroundSolid).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
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
		Height(5).Span(6))
	b.WithPanel(stat.NewPanelBuilder().
		Title("Ready tasks waiting").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_ready_unassigned_tasks{%s}`, selector), "{{instance}} {{loop}}").Instant()).
		Thresholds(thresholds(step(nil, "green"), step(num(1), "orange"))).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Height(5).Span(6))

	b.WithRow(dashboard.NewRowBuilder("Loop"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Time since last completed cycle vs threshold").
		Description("The loop is stale when the first line crosses the second.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`time() - dispatch_poll_last_completed_seconds{%s}`, selector), "{{instance}} {{loop}} since completed")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale_threshold_seconds{%s}`, selector), "{{instance}} {{loop}} threshold")).
		Unit("s").Min(0).
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Wedged, stuck, in flight").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale{%s}`, selector), "{{instance}} {{loop}} wedged")).
		WithTarget(q(fmt.Sprintf(`dispatch_stuck_queue{%s}`, selector), "{{instance}} {{loop}} stuck")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_in_flight{%s}`, selector), "{{instance}} {{loop}} in flight")).
		Min(0).Max(1).
		Height(8).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Queue"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Ready unassigned tasks vs available workers").
		Description("The queue is stuck while tasks wait and no worker is available.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_ready_unassigned_tasks{%s}`, selector), "{{instance}} {{loop}} ready tasks")).
		WithTarget(q(fmt.Sprintf(`dispatch_available_workers{%s}`, selector), "{{instance}} {{loop}} workers")).
		Min(0).Decimals(0).
		Height(8).Span(24))

	b.WithRow(dashboard.NewRowBuilder("Cycles (in-process loops)"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Cycle duration").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`histogram_quantile(0.99, sum by (le, instance, loop) (rate(dispatch_poll_cycle_duration_seconds_bucket{%s}[$__rate_interval])))`, selector), "{{instance}} {{loop}} p99")).
		WithTarget(q(fmt.Sprintf(`histogram_quantile(0.5, sum by (le, instance, loop) (rate(dispatch_poll_cycle_duration_seconds_bucket{%s}[$__rate_interval])))`, selector), "{{instance}} {{loop}} p50")).
		Unit("s").Min(0).
		Height(8).Span(12))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Cycle outcomes").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`sum by (instance, loop, result) (rate(dispatch_poll_cycles_total{%s}[$__rate_interval]))`, selector), "{{instance}} {{loop}} {{result}}")).
		Unit("ops").Min(0).
		Height(8).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Status endpoint (sidecar)"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status request latency").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_status_request_duration_seconds{%s}`, selector), "{{instance}} {{loop}}")).
		Unit("s").Min(0).
		Height(8).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status request failures").
		Description("Failed status requests per second, by reason.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`sum by (instance, loop, reason) (rate(dispatch_status_request_failures_total{%s}[$__rate_interval]))`, selector), "{{instance}} {{loop}} {{reason}}")).
		Unit("reqps").Min(0).
		Height(8).Span(8))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("The daemon's own view").
		Description("What the status says beside our verdict: the daemon's own pollStale (smithy's banner; it false-alarms on a stopped loop), wedged as we judge it, a rate-limit pause, and whether the daemon says it is available. A lasting disagreement raises DispatchVerdictDisagrees.").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_daemon_reported_stale{%s}`, selector), "{{instance}} {{loop}} daemon says stale")).
		WithTarget(q(fmt.Sprintf(`dispatch_poll_stale{%s} and on (job, instance, loop) dispatch_daemon_reported_stale{%s}`, selector, selector), "{{instance}} {{loop}} wedged (ours)")).
		WithTarget(q(fmt.Sprintf(`dispatch_rate_limit_paused{%s}`, selector), "{{instance}} {{loop}} rate-limit paused")).
		WithTarget(q(fmt.Sprintf(`dispatch_daemon_available{%s}`, selector), "{{instance}} {{loop}} available")).
		Min(0).Max(1).Decimals(0).
		Height(8).Span(24))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Status readable (up)").
		Description("1 while the scrape read a usable status, 0 when it did not (DOWN, or WEDGED when the daemon hangs).").
		Datasource(ds()).
		WithTarget(q(fmt.Sprintf(`dispatch_up{%s}`, selector), "{{instance}} {{loop}} up")).
		Min(0).Max(1).Decimals(0).
		Height(8).Span(8))
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

// Queries lists every PromQL query of the dashboard: panel targets,
// variables and annotations, as written (with Grafana's $variables).
func Queries(d dashboard.Dashboard) []string {
	var out []string
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, t := range p.Panel.Targets {
			if pq, ok := t.(prometheus.Dataquery); ok {
				out = append(out, pq.Expr)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == dashboard.VariableTypeQuery && v.Query != nil && v.Query.String != nil {
			out = append(out, *v.Query.String)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != nil {
			out = append(out, *a.Expr)
		}
	}
	return out
}

// PanelQueries maps each panel title to its target queries.
func PanelQueries(d dashboard.Dashboard) map[string][]string {
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Panel == nil || p.Panel.Title == nil {
			continue
		}
		for _, t := range p.Panel.Targets {
			if pq, ok := t.(prometheus.Dataquery); ok {
				out[*p.Panel.Title] = append(out[*p.Panel.Title], pq.Expr)
			}
		}
	}
	return out
}

// Expand replaces Grafana's variables in a query with what they take when
// every value is selected, so it runs as plain PromQL.
func Expand(query string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$job", ".*", "$instance", ".*", "$loop", ".*").Replace(query)
}
