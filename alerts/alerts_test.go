// Package alerts holds the Prometheus rules, their unit tests, runbooks and
// an example Alertmanager config; this test checks them with the real
// promtool and amtool, and checks what those cannot.
package alerts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// loadRules is every rule of dispatch.rules.yml, recording rules included.
func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile("dispatch.rules.yml")
	require.NoError(t, err)
	var f ruleFile
	require.NoError(t, yaml.UnmarshalStrict(b, &f))
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	require.NotEmpty(t, rules)
	return rules
}

// loadAlerts is the alerting rules of dispatch.rules.yml.
func loadAlerts(t *testing.T) []rule {
	t.Helper()
	var alerts []rule
	for _, r := range loadRules(t) {
		if r.Alert != "" {
			alerts = append(alerts, r)
		}
	}
	require.NotEmpty(t, alerts)
	return alerts
}

// testFiles is every promtool unit test file under tests/.
func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("tests", "*_test.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", bin, args, out)
	t.Logf("%s", out)
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "PROMTOOL"), "check", "rules", "--lint=all", "--lint-fatal", "dispatch.rules.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "PROMTOOL"), append([]string{"test", "rules"}, testFiles(t)...)...)
}

func TestAmtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "AMTOOL"), "check-config", "alertmanager.yml")
}

// TestEveryAlertIsDocumentedAndTested: severity, the exporter label the
// route subtree matches, summary, a description, a runbook_url pointing at
// a section of RUNBOOK.md, a dashboard_url opening the bundled dashboard
// (its uid as generated) on the alert's cluster, job, instance and loop, and a unit
// test in which it fires.
func TestEveryAlertIsDocumentedAndTested(t *testing.T) {
	t.Parallel()
	runbook, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	firing := regexp.MustCompile(`alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels`)
	fired := map[string]bool{}
	for _, f := range testFiles(t) {
		tests, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range firing.FindAllStringSubmatch(string(tests), -1) {
			fired[m[1]] = true
		}
	}

	b, err := os.ReadFile(filepath.Join("..", "dashboards", "dispatch.json"))
	require.NoError(t, err)
	var dashboard struct {
		UID string `json:"uid"`
	}
	require.NoError(t, json.Unmarshal(b, &dashboard))
	require.NotEmpty(t, dashboard.UID)
	dashboardURL := "https://grafana.example.com/d/" + dashboard.UID +
		"?var-job={{ $labels.job | urlquery }}{{ with $labels.cluster }}&var-cluster={{ . | urlquery }}{{ end }}" +
		"{{ with $labels.instance }}&var-instance={{ . | urlquery }}{{ end }}" +
		"{{ with $labels.loop }}&var-loop={{ . | urlquery }}{{ end }}"

	for _, r := range loadAlerts(t) {
		assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
		assert.Equal(t, "dispatch_exporter", r.Labels["exporter"], "%s carries the label the route subtree matches", r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.NotEmpty(t, r.Annotations["description"], r.Alert)
		anchor := strings.ToLower(r.Alert)
		assert.Equal(t, "https://github.com/stoneforge/dispatch_exporter/blob/main/alerts/RUNBOOK.md#"+anchor,
			r.Annotations["runbook_url"], r.Alert)
		assert.Contains(t, string(runbook), "\n## "+r.Alert+"\n", "RUNBOOK.md has a section for %s", r.Alert)
		assert.Equal(t, dashboardURL, r.Annotations["dashboard_url"], "%s links the bundled dashboard on its own labels", r.Alert)
		assert.True(t, fired[r.Alert], "tests/ has a case where %s fires", r.Alert)
	}
}

// TestRulesUseOnlyExportedMetrics parses every expression (and every query
// in the annotations) with Prometheus' own parser and checks each metric
// name against what the exporter exports (the golden expositions).
func TestRulesUseOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := family.SeriesNames()
	exported["up"] = true     // Prometheus' own
	exported["ALERTS"] = true // Prometheus' own, of this file's alerts
	for _, r := range loadRules(t) {
		if r.Record != "" {
			exported[r.Record] = true
		}
	}
	query := regexp.MustCompile("printf `([^`]+)`")
	p := parser.NewParser(parser.Options{})
	for _, r := range loadRules(t) {
		name := r.Alert + r.Record
		exprs := []string{r.Expr}
		for _, a := range r.Annotations {
			for _, m := range query.FindAllStringSubmatch(a, -1) {
				exprs = append(exprs, strings.ReplaceAll(m[1], "%s", "x"))
			}
		}
		for i, e := range exprs {
			ast, err := p.ParseExpr(e)
			require.NoError(t, err, "%s: %s", name, e)
			parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					assert.True(t, exported[vs.Name], "%s uses %q, which neither the exporter nor this file exports", name, vs.Name)
					if i == 0 && !ruleOutput(vs.Name, exported) { // annotation queries select the alert's own labels
						assert.Contains(t, vs.String(), `job="dispatch"`, "%s: every selector is adaptable the same way", name)
					}
				}
				return nil
			})
		}
	}
}

// ruleOutput reports whether name is a series this file's rules write (a
// recording rule's, or ALERTS): what they select was selected by job
// already.
func ruleOutput(name string, exported map[string]bool) bool {
	return strings.Contains(name, ":") && exported[name]
}

// TestInhibitions checks alertmanager.yml's inhibit rules by their
// matchers and equal labels: which alert, firing, mutes which other of the
// same loop. Above all, nothing mutes DispatchRestartsNotHelping: it says
// what no other alert does (automation restarted the daemon and gave up),
// so it reaches a person even while DispatchDaemonWedged pages; nor
// DispatchDaemonWedgedUnwatched, the page a wedge leaves behind.
func TestInhibitions(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("alertmanager.yml")
	require.NoError(t, err)
	var cfg struct {
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	require.NotEmpty(t, cfg.InhibitRules)

	severity := map[string]string{}
	for _, r := range loadAlerts(t) {
		severity[r.Alert] = r.Labels["severity"]
	}
	alert := func(name string) labels.Labels {
		require.Contains(t, severity, name)
		return labels.FromStrings("alertname", name, "severity", severity[name], "cluster", "eu", "job", "dispatch", "instance", "a:9847", "loop", "dispatch")
	}
	p := parser.NewParser(parser.Options{})
	matches := func(ms []string, l labels.Labels) bool {
		for _, m := range ms {
			sel, err := p.ParseMetricSelector("{" + m + "}")
			require.NoError(t, err, m)
			for _, s := range sel {
				if !s.Matches(l.Get(s.Name)) {
					return false
				}
			}
		}
		return true
	}
	mutes := func(source, target string) bool {
		src, tgt := alert(source), alert(target)
		for _, r := range cfg.InhibitRules {
			require.Subset(t, []string{"cluster", "job", "instance", "loop"}, r.Equal, "rules keep job, instance, loop (and cluster); equal uses no other label")
			require.Contains(t, r.Equal, "cluster", "two clusters whose instance names collide must not inhibit each other")
			if matches(r.SourceMatchers, src) && matches(r.TargetMatchers, tgt) {
				return true
			}
		}
		return false
	}

	for source := range severity {
		for _, page := range []string{"DispatchRestartsNotHelping", "DispatchDaemonWedgedUnwatched"} {
			assert.False(t, mutes(source, page), "%s must not mute %s", source, page)
		}
	}
	for _, c := range []struct {
		source, target string
		want           bool
	}{
		{"DispatchDaemonWedged", "DispatchQueueStuck", true},
		{"DispatchDaemonWedged", "DispatchStatusDownLong", true},
		{"DispatchRestartsNotHelping", "DispatchRestartsRecurring", true},
		{"DispatchRestartsNotHelping", "DispatchDaemonWedged", false},
		{"DispatchDaemonWedged", "DispatchRestartsRecurring", false},
		{"DispatchDaemonWedgedUnwatched", "DispatchLoopUnwatched", true},
		{"DispatchExporterAbsent", "DispatchLoopUnwatched", true},
		{"DispatchDaemonWedgedUnwatched", "DispatchDaemonWedged", false},
		{"DispatchDaemonWedgedUnwatched", "DispatchExporterDown", false},
		{"DispatchLoopUnwatched", "DispatchExporterDown", false},
	} {
		assert.Equal(t, c.want, mutes(c.source, c.target), "%s mutes %s", c.source, c.target)
	}
}
