package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// targetSelector selects a scrape target from the dashboard's variables:
// for series without a loop label (up, build info). cluster=~"$cluster"
// also matches series without a cluster label: its "All" is ".*".
const targetSelector = `cluster=~"$cluster", job=~"$job", instance=~"$instance"`

// selector is what every query of a loop's series selects.
const selector = targetSelector + `, loop=~"$loop"`

// States of the State tile: the query's value for each. The first five are
// a loop's, as dispatch.State names them; the last two are a scrape
// target's, when nothing of its loops can be read.
const (
	stateStopped      = -1
	stateOK           = 0
	stateStuck        = 1
	stateDown         = 2
	stateWedged       = 3
	stateExporterDown = 4
	stateNotScraped   = 5
)

// noSeriesText is the State tile's text when its query returns nothing:
// no loop and no target of the selection was scraped within
// notScrapedWindow (or the selection names none), so nothing watches it.
const noSeriesText = "NOT SCRAPED"

// notScrapedWindow is how long a target that vanished from the scrape
// (service discovery lost it) stays on the State tile as NOT SCRAPED.
const notScrapedWindow = "1h"

// StateQuery is the State tile as PromQL: one series per loop whose value
// is its state, and one per scrape target whose loops cannot be seen. `or`
// keeps the left-most match per label set, so the order is the priority:
// wedged, down (the status unreadable), stuck, stopped, ok. A wedge wins
// over everything: it is the page. DOWN comes before a stuck queue: while
// the status cannot be read the queue exported is that of the last usable
// status, not known now, which is also why Alertmanager inhibits
// DispatchQueueStuck while DispatchStatusDown fires and why the exporter's
// own decision says DOWN. Each term maps its filter's value to the state's
// (and drops the metric name, so the terms' label sets match).
//
// The two target terms carry no loop label, so they never hide a loop's
// state: EXPORTER DOWN when Prometheus cannot scrape the exporter (up 0,
// every dispatch_* series gone), NOT SCRAPED for a target scraped within
// notScrapedWindow and no longer (its pod deleted, a selector broken). The
// job variable has no custom "All" value, so up{} is only ever that of the
// jobs exporting dispatch_up, never every target of the Prometheus.
// Nothing at all for the selection shows the tile's noValue text.
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
		term(`up{`+targetSelector+`} == 0`, stateExporterDown),
		term(`max_over_time(up{`+targetSelector+`}[`+notScrapedWindow+`]) unless up{`+targetSelector+`}`, stateNotScraped),
	}, "\n  or ")
}

// SinceCompletedOfThresholdQuery is time since the last completed cycle as
// a share of the same loop's staleness threshold: 1 is WEDGED, whatever the
// threshold of each loop.
func SinceCompletedOfThresholdQuery() string {
	return fmt.Sprintf(`(time() - dispatch_poll_last_completed_seconds{%s}) / dispatch_poll_stale_threshold_seconds{%s}`, selector, selector)
}

// ReadyTasksQuery is the "Ready tasks waiting" tile's count for loops whose
// queue is not stuck: tasks wait while a worker can take them, which a busy
// queue does all day.
func ReadyTasksQuery() string {
	return fmt.Sprintf(`dispatch_ready_unassigned_tasks{%s} unless dispatch_stuck_queue{%s} == 1`, selector, selector)
}

// StuckReadyTasksQuery is the same count for loops whose queue is stuck:
// tasks wait and no worker is available to take them. It has series only
// then; the tile colours them amber.
func StuckReadyTasksQuery() string {
	return fmt.Sprintf(`dispatch_ready_unassigned_tasks{%s} and dispatch_stuck_queue{%s} == 1`, selector, selector)
}

// AnnotationQuery is the alert annotations' query, filtered like the
// panels. An alert about a whole target (DispatchExporterDown) carries no
// loop label, one about a whole job (DispatchExporterAbsent) no instance
// either: the empty alternative keeps them on a view narrowed to one
// instance or loop, where they matter as much.
func AnnotationQuery() string {
	return `ALERTS{alertstate="firing", alertname=~"Dispatch.*", cluster=~"$cluster", job=~"$job", instance=~"$instance|", loop=~"$loop|"}`
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
// every value is selected, so it runs as plain PromQL. The job variable's
// "All" is, in Grafana, the list of jobs exporting dispatch_up; ".*" here
// stands for it where Prometheus scrapes nothing else.
func Expand(query string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$cluster", ".*", "$job", ".*", "$instance", ".*", "$loop", ".*").Replace(query)
}
