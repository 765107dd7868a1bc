package dashboards

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadEvery holds each series (promtool's notation: `m{l="v"} 1x5 stale`)
// in memory, one point every step from time 0, for Prometheus' engine to
// query (its TSDB would drag its cloud SDKs into this module).
func loadEvery(t *testing.T, step time.Duration, series ...string) storage.Queryable {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	var loaded []storage.Series
	for _, s := range series {
		lbls, values, err := p.ParseSeriesDesc(s)
		require.NoError(t, err, s)
		var samples []chunks.Sample
		for i, v := range values {
			if !v.Omitted {
				samples = append(samples, sample{t: int64(i) * step.Milliseconds(), f: v.Value})
			}
		}
		loaded = append(loaded, storage.NewListSeries(lbls, samples))
	}
	slices.SortFunc(loaded, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &storage.MockQueryable{MockQuerier: &storage.MockQuerier{
		SelectMockFunction: func(_ bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
			set := &seriesSet{}
			for _, s := range loaded {
				if matchAll(s.Labels(), matchers) {
					set.series = append(set.series, s)
				}
			}
			return set
		},
	}}
}

func matchAll(l labels.Labels, matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

// sample is one float sample of a loaded series.
type sample struct {
	t int64
	f float64
}

func (s sample) T() int64                    { return s.t }
func (sample) ST() int64                     { return 0 }
func (s sample) F() float64                  { return s.f }
func (sample) H() *histogram.Histogram       { return nil }
func (sample) FH() *histogram.FloatHistogram { return nil }
func (sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s sample) Copy() chunks.Sample         { return s }

// seriesSet iterates over series sorted by their labels.
type seriesSet struct {
	series []storage.Series
	next   int
}

func (s *seriesSet) Next() bool                      { s.next++; return s.next <= len(s.series) }
func (s *seriesSet) At() storage.Series              { return s.series[s.next-1] }
func (*seriesSet) Err() error                        { return nil }
func (*seriesSet) Warnings() annotations.Annotations { return nil }

// evalAt runs query as Grafana would with every value of each variable
// selected (the job variable's "All" being the list of jobs exporting
// dispatch_up, here "dispatch") on Prometheus' own engine, and returns its
// series' values by "instance loop".
func evalAt(t *testing.T, db storage.Queryable, at time.Duration, query string) map[string]float64 {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute})
	t.Cleanup(func() { _ = engine.Close() })
	expr := Expand(strings.ReplaceAll(query, "$job", "(dispatch)"))
	q, err := engine.NewInstantQuery(context.Background(), db, nil, expr, time.UnixMilli(at.Milliseconds()))
	require.NoError(t, err, expr)
	defer q.Close()
	res := q.Exec(context.Background())
	require.NoError(t, res.Err, expr)
	vector, err := res.Vector()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, s := range vector {
		key := s.Metric.Get("instance") + " " + s.Metric.Get("loop")
		_, dup := out[key]
		require.False(t, dup, "one series per loop or target: %s twice in %v", key, vector)
		out[key] = s.F
	}
	return out
}

// TestStateTileShowsEveryState: the State tile's query, run by Prometheus'
// engine over one target (or loop) per state, gives each its state, the
// first in priority where several hold (wedged, status down, stuck,
// stopped, ok); a target Prometheus cannot scrape shows EXPORTER DOWN, one
// that vanished from the scrape NOT SCRAPED, instead of no tile at all; a
// target of another job is never shown; and with nothing left to show the
// tile says NOT SCRAPED, not Grafana's "No data".
func TestStateTileShowsEveryState(t *testing.T) {
	t.Parallel()
	// One point a minute for 90 minutes; the tile is read at 90m.
	const healthy = "1x90"
	loop := func(instance, name, up, stale, stuck, running string) []string {
		l := `{job="dispatch", instance="` + instance + `", loop="` + name + `"} `
		return []string{
			`dispatch_up` + l + up,
			`dispatch_poll_stale` + l + stale,
			`dispatch_stuck_queue` + l + stuck,
			`dispatch_daemon_running` + l + running,
		}
	}
	target := func(job, instance, up string) string {
		return `up{job="` + job + `", instance="` + instance + `"} ` + up
	}
	var series []string
	add := func(s ...string) { series = append(series, s...) }
	add(target("dispatch", "ok", healthy))
	add(loop("ok", "dispatch", healthy, "0x90", "0x90", healthy)...)
	add(target("dispatch", "two-loops", healthy))
	add(loop("two-loops", "a", healthy, "0x90", "0x90", healthy)...)
	add(loop("two-loops", "b", healthy, "0x80 1x10", "0x90", healthy)...)
	// Wedged while the status is unreadable and the queue stuck: wedged.
	add(target("dispatch", "wedged", healthy))
	add(loop("wedged", "dispatch", "1x80 0x10", "0x80 1x10", "0x80 1x10", healthy)...)
	// Stuck, its status unreadable since: DOWN, the queue is not known now.
	add(target("dispatch", "stuck-down", healthy))
	add(loop("stuck-down", "dispatch", "1x85 0x5", "0x90", "0x80 1x10", healthy)...)
	add(target("dispatch", "stuck", healthy))
	add(loop("stuck", "dispatch", healthy, "0x90", "0x80 1x10", healthy)...)
	add(target("dispatch", "down", healthy))
	add(loop("down", "dispatch", "1x85 0x5", "0x90", "0x90", healthy)...)
	add(target("dispatch", "stopped", healthy))
	add(loop("stopped", "dispatch", healthy, "0x90", "0x90", "1x80 0x10")...)
	// Prometheus cannot scrape it: up 0, its series marked stale.
	add(target("dispatch", "exporter-down", "1x85 0x5"))
	add(loop("exporter-down", "dispatch", "1x85 stale", "0x85 stale", "0x85 stale", "1x85 stale")...)
	// Gone from service discovery 10 minutes ago: no up at all since.
	add(target("dispatch", "vanished", "1x80 stale"))
	add(loop("vanished", "dispatch", "1x80 stale", "0x80 stale", "0x80 stale", "1x80 stale")...)
	// Gone for longer than the tile remembers.
	add(target("dispatch", "long-gone", "1x20 stale"))
	add(loop("long-gone", "dispatch", "1x20 stale", "0x20 stale", "0x20 stale", "1x20 stale")...)
	// Another team's target, down: none of this dashboard's business.
	add(target("node", "other", "1x85 0x5"))

	db := loadEvery(t, time.Minute, series...)
	got := evalAt(t, db, 90*time.Minute, StateQuery())
	assert.Equal(t, map[string]float64{
		"ok dispatch":         stateOK,
		"two-loops a":         stateOK,
		"two-loops b":         stateWedged,
		"wedged dispatch":     stateWedged,
		"stuck-down dispatch": stateDown,
		"stuck dispatch":      stateStuck,
		"down dispatch":       stateDown,
		"stopped dispatch":    stateStopped,
		"exporter-down ":      stateExporterDown,
		"vanished ":           stateNotScraped,
	}, got)

	// Every value the query gives has its words and colour on the tile.
	d, err := Dispatch()
	require.NoError(t, err)
	// Another job stays out only while "All" jobs means those exporting
	// dispatch_up (Grafana's alternation of the listed values), not ".*".
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Name == "job" {
			assert.Nil(t, v.AllValue, "the job variable's All is the jobs it lists")
		}
	}
	require.Contains(t, vars, "job")
	tile := panel(t, d, "State")
	texts := map[string]string{}
	for _, m := range tile.FieldConfig.Defaults.Mappings {
		require.NotNil(t, m.ValueMap)
		for v, r := range m.ValueMap.Options {
			require.NotNil(t, r.Text)
			require.NotNil(t, r.Color)
			texts[v] = *r.Text
		}
	}
	assert.Equal(t, map[string]string{
		"3": "WEDGED", "1": "STUCK", "2": "DOWN", "-1": "STOPPED", "0": "OK",
		"4": "EXPORTER DOWN", "5": "NOT SCRAPED",
	}, texts)

	// Nothing scraped for the selection: no series, and the tile's text
	// for no value says so.
	assert.Empty(t, evalAt(t, loadEvery(t, time.Minute, target("dispatch", "long-gone", "1x20 stale")), 90*time.Minute, StateQuery()))
	require.NotNil(t, tile.FieldConfig.Defaults.NoValue)
	assert.Equal(t, "NOT SCRAPED", *tile.FieldConfig.Defaults.NoValue)
}

// panel is the dashboard's panel titled title.
func panel(t *testing.T, d dashboard.Dashboard, title string) *dashboard.Panel {
	t.Helper()
	for _, p := range d.Panels {
		if p.Panel != nil && p.Panel.Title != nil && *p.Panel.Title == title {
			return p.Panel
		}
	}
	require.Failf(t, "no panel", "%q", title)
	return nil
}
