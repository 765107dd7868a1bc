package dashboards

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// targetLevel are the series with no loop label: a scrape target's.
var targetLevel = map[string]bool{
	"up":                           true,
	"dispatch_exporter_build_info": true,
	"dispatch_exporter_config_last_reload_successful": true,
	"ALERTS": true, // an alert carries the labels its series did, or fewer
}

// TestEveryQueryIsFilteredByEveryVariable: every selector of every panel
// query and of the alert annotations matches the cluster, job and instance
// variables, and the loop variable wherever the series has a loop label.
func TestEveryQueryIsFilteredByEveryVariable(t *testing.T) {
	t.Parallel()
	d, err := Dispatch()
	require.NoError(t, err)
	queries := []string{AnnotationQuery()}
	for _, qs := range PanelQueries(d) {
		queries = append(queries, qs...)
	}
	require.Len(t, d.Annotations.List, 1)
	require.NotNil(t, d.Annotations.List[0].Expr)
	assert.Equal(t, AnnotationQuery(), *d.Annotations.List[0].Expr)

	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		expr, err := p.ParseExpr(strings.NewReplacer("$__rate_interval", "1m").Replace(q))
		require.NoError(t, err, q)
		selectors := 0
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			vars := map[string]bool{}
			for _, m := range vs.LabelMatchers {
				if strings.Contains(m.Value, "$"+m.Name) {
					vars[m.Name] = true
				}
			}
			want := map[string]bool{"cluster": true, "job": true, "instance": true, "loop": !targetLevel[vs.Name]}
			for v, w := range want {
				if w {
					assert.True(t, vars[v], "%s in %q is not filtered by $%s", vs.Name, q, v)
				}
			}
			return nil
		})
		assert.Positive(t, selectors, q)
	}
}

// TestAnnotationsShowTheSelectedLoopsAlerts: narrowed to one instance and
// loop, the annotations show that loop's alerts, and those of its whole
// target or job (no loop or instance label), not another instance's nor
// another job's.
func TestAnnotationsShowTheSelectedLoopsAlerts(t *testing.T) {
	t.Parallel()
	alert := func(name, labels string) string {
		return `ALERTS{alertstate="firing", alertname="` + name + `", severity="warning", ` + labels + `} 1x10`
	}
	db := loadEvery(t, time.Minute,
		alert("DispatchDaemonWedged", `job="dispatch", instance="a", loop="x"`),
		alert("DispatchQueueStuck", `job="dispatch", instance="a", loop="y"`),
		alert("DispatchDaemonWedged", `job="dispatch", instance="b", loop="x"`),
		alert("DispatchExporterDown", `job="dispatch", instance="a"`),
		alert("DispatchExporterAbsent", `job="dispatch"`),
		alert("DispatchDaemonWedged", `job="other", instance="a", loop="x"`),
		`ALERTS{alertstate="firing", alertname="NodeDown", job="dispatch", instance="a"} 1x10`,
	)
	narrowed := strings.NewReplacer("$instance", "(a)", "$loop", "(x)").Replace(AnnotationQuery())
	got := map[string]bool{}
	for key := range evalAt(t, db, 10*time.Minute, narrowed) {
		got[key] = true
	}
	assert.Equal(t, map[string]bool{"a x": true, "a ": true, " ": true}, got)
}
