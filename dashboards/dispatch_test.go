package dashboards

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/stoneforge/dispatch_exporter/collector/family"
)

func TestCommittedJSONIsGenerated(t *testing.T) {
	t.Parallel()
	want, err := JSON()
	require.NoError(t, err)
	got, err := os.ReadFile("dispatch.json")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "dispatch.json is stale: run go generate ./dashboards")
}

func TestDashboardShape(t *testing.T) {
	t.Parallel()
	var d struct {
		UID           string `json:"uid"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID    int    `json:"id"`
			Type  string `json:"type"`
			Title string `json:"title"`
		} `json:"panels"`
	}
	b, err := os.ReadFile("dispatch.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &d))
	assert.Equal(t, UID, d.UID)
	assert.Equal(t, 39, d.SchemaVersion, "Grafana 10.4's: importable by 10.4, 11.x and 12.x")
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Type+":"+v.Name)
	}
	assert.Equal(t, []string{"datasource:datasource", "query:cluster", "query:job", "query:instance", "query:loop"}, vars)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel ids are unique: %d", p.ID)
		ids[p.ID] = true
	}
	assert.Equal(t, "State", d.Panels[1].Title, "the banner's heir comes first")
}

// TestStaleTileIsColouredByTheLoopsThreshold: the "no cycle completed for"
// tile divides by the same loop's threshold and turns red at 1, not at a
// fixed number of seconds; no panel mixes a rate with 0/1 up.
func TestStaleTileIsColouredByTheLoopsThreshold(t *testing.T) {
	t.Parallel()
	d, err := Dispatch()
	require.NoError(t, err)
	var tile *dashboard.Panel
	for _, p := range d.Panels {
		if p.Panel != nil && p.Panel.Title != nil && strings.HasPrefix(*p.Panel.Title, "No cycle completed for") {
			tile = p.Panel
		}
	}
	require.NotNil(t, tile)
	require.Len(t, tile.Targets, 1)
	assert.Equal(t, SinceCompletedOfThresholdQuery(), tile.Targets[0].(prometheus.Dataquery).Expr)
	assert.Contains(t, SinceCompletedOfThresholdQuery(), "/ dispatch_poll_stale_threshold_seconds{")
	require.NotNil(t, tile.FieldConfig.Defaults.Thresholds)
	steps := tile.FieldConfig.Defaults.Thresholds.Steps
	require.NotEmpty(t, steps)
	last := steps[len(steps)-1]
	assert.Equal(t, "red", last.Color)
	require.NotNil(t, last.Value)
	assert.Equal(t, 1.0, *last.Value, "red at the threshold itself")

	for title, queries := range PanelQueries(d) {
		var rates, ups int
		for _, q := range queries {
			if strings.Contains(q, "rate(") {
				rates++
			}
			if strings.HasPrefix(q, "dispatch_up{") {
				ups++
			}
		}
		assert.False(t, rates > 0 && ups > 0, "panel %q mixes a rate with up", title)
	}
}

// TestQueriesParseAndUseExportedMetrics parses every query with Prometheus'
// own parser (Grafana's variables expanded) and checks each metric name is
// one the exporter exports (its loops' families, and the build information
// client_golang's version collector exports as dispatch_exporter_build_info),
// or Prometheus' own up and ALERTS.
func TestQueriesParseAndUseExportedMetrics(t *testing.T) {
	t.Parallel()
	d, err := Dispatch()
	require.NoError(t, err)
	known := family.SeriesNames()
	known["ALERTS"] = true
	known["up"] = true
	known["dispatch_exporter_build_info"] = true
	labelValues := regexp.MustCompile(`^label_values\((.*), \w+\)$`)
	p := parser.NewParser(parser.Options{})
	queries := Queries(d)
	require.Len(t, queries, 32)
	for _, q := range queries {
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1] // a variable: its selector is PromQL
		}
		expr, err := p.ParseExpr(Expand(q))
		require.NoError(t, err, q)
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				assert.True(t, known[vs.Name], "%q is not a metric the exporter exports (in %s)", vs.Name, q)
			}
			return nil
		})
	}
}

func TestProvisioningFiles(t *testing.T) {
	t.Parallel()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool              `yaml:"isDefault"`
			JSONData                     map[string]string `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile("provisioning/datasources/prometheus.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, &ds))
	require.Len(t, ds.Datasources, 1)
	assert.Equal(t, "prometheus", ds.Datasources[0].Type)

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err = os.ReadFile("provisioning/dashboards/dispatch.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, &prov))
	require.Len(t, prov.Providers, 1)
	assert.Equal(t, "file", prov.Providers[0].Type)
}
