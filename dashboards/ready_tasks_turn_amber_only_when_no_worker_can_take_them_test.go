package dashboards

import (
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadyTasksTurnAmberOnlyWhenNoWorkerCanTakeThem: the "Ready tasks
// waiting" tile shows a busy queue (tasks waiting, workers available) in
// green however many wait, and the count of a stuck queue (tasks waiting,
// no worker) in amber; each loop is counted once.
func TestReadyTasksTurnAmberOnlyWhenNoWorkerCanTakeThem(t *testing.T) {
	t.Parallel()
	d, err := Dispatch()
	require.NoError(t, err)
	tile := panel(t, d, "Ready tasks waiting")

	// Which query is coloured amber: only the stuck loops' count.
	require.Len(t, tile.Targets, 2)
	refs := map[string]string{}
	for _, target := range tile.Targets {
		pq := target.(prometheus.Dataquery)
		require.NotNil(t, pq.RefId)
		refs[pq.Expr] = *pq.RefId
	}
	require.Contains(t, refs, ReadyTasksQuery())
	require.Contains(t, refs, StuckReadyTasksQuery())
	require.NotNil(t, tile.FieldConfig.Defaults.Thresholds)
	for _, s := range tile.FieldConfig.Defaults.Thresholds.Steps {
		assert.Equal(t, "green", s.Color, "no count alone turns the tile amber")
	}
	amber := map[string]bool{}
	for _, o := range tile.FieldConfig.Overrides {
		require.Equal(t, "byFrameRefID", o.Matcher.Id)
		require.NotNil(t, o.Matcher.Options)
		for _, p := range o.Properties {
			if c, ok := p.Value.(dashboard.FieldColor); ok && p.Id == "color" && c.Mode == dashboard.FieldColorModeIdFixed {
				require.NotNil(t, c.FixedColor)
				ref, ok := o.Matcher.Options.(*string)
				require.True(t, ok && ref != nil, "a query's refId: %v", o.Matcher.Options)
				amber[*ref] = *c.FixedColor == "orange"
			}
		}
	}
	assert.Equal(t, map[string]bool{refs[StuckReadyTasksQuery()]: true}, amber)

	// What each query selects, on Prometheus' engine.
	loop := func(instance, ready, workers, stuck string) []string {
		l := `{job="dispatch", instance="` + instance + `", loop="dispatch"} `
		return []string{
			`dispatch_ready_unassigned_tasks` + l + ready,
			`dispatch_available_workers` + l + workers,
			`dispatch_stuck_queue` + l + stuck,
		}
	}
	var series []string
	series = append(series, loop("idle", "0x10", "3x10", "0x10")...)
	series = append(series, loop("busy", "12x10", "3x10", "0x10")...)
	series = append(series, loop("stuck", "2x10", "0x10", "0x5 1x5")...)
	db := loadEvery(t, time.Minute, series...)
	assert.Equal(t, map[string]float64{"idle dispatch": 0, "busy dispatch": 12},
		evalAt(t, db, 10*time.Minute, ReadyTasksQuery()), "green: a worker can take them")
	assert.Equal(t, map[string]float64{"stuck dispatch": 2},
		evalAt(t, db, 10*time.Minute, StuckReadyTasksQuery()), "amber: no worker can")
}
