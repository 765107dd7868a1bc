// Package alerts holds the Prometheus rules, their unit tests, runbooks and
// an example Alertmanager config; this test checks them with the real
// promtool and amtool, and checks what those cannot.
package alerts

import (
	"os"
	"os/exec"
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
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

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

func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", bin, args, out)
	t.Logf("%s", out)
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "PROMTOOL"), "check", "rules", "dispatch.rules.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "PROMTOOL"), "test", "rules", "tests/dispatch_test.yml")
}

func TestAmtoolCheckConfig(t *testing.T) {
	t.Parallel()
	runTool(t, dispatchtest.Tool(t, "AMTOOL"), "check-config", "alertmanager.yml")
}

// TestEveryAlertIsDocumentedAndTested: severity, summary, a description,
// a runbook_url pointing at a section of RUNBOOK.md, and a unit test in
// which it fires.
func TestEveryAlertIsDocumentedAndTested(t *testing.T) {
	t.Parallel()
	runbook, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	tests, err := os.ReadFile("tests/dispatch_test.yml")
	require.NoError(t, err)
	firing := regexp.MustCompile(`alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels`)
	fired := map[string]bool{}
	for _, m := range firing.FindAllStringSubmatch(string(tests), -1) {
		fired[m[1]] = true
	}

	for _, r := range loadRules(t) {
		require.NotEmpty(t, r.Alert, "only alerting rules here: %q", r.Expr)
		assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.NotEmpty(t, r.Annotations["description"], r.Alert)
		anchor := strings.ToLower(r.Alert)
		assert.Equal(t, "https://github.com/stoneforge/dispatch_exporter/blob/main/alerts/RUNBOOK.md#"+anchor,
			r.Annotations["runbook_url"], r.Alert)
		assert.Contains(t, string(runbook), "\n## "+r.Alert+"\n", "RUNBOOK.md has a section for %s", r.Alert)
		assert.True(t, fired[r.Alert], "tests/dispatch_test.yml has a case where %s fires", r.Alert)
	}
}

// TestRulesUseOnlyExportedMetrics parses every expression (and every query
// in the annotations) with Prometheus' own parser and checks each metric
// name against what the exporter exports (the golden expositions).
func TestRulesUseOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := family.SeriesNames()
	exported["up"] = true // Prometheus' own
	query := regexp.MustCompile("printf `([^`]+)`")
	p := parser.NewParser(parser.Options{})
	for _, r := range loadRules(t) {
		exprs := []string{r.Expr}
		for _, a := range r.Annotations {
			for _, m := range query.FindAllStringSubmatch(a, -1) {
				exprs = append(exprs, strings.ReplaceAll(m[1], "%s", "x"))
			}
		}
		for i, e := range exprs {
			ast, err := p.ParseExpr(e)
			require.NoError(t, err, "%s: %s", r.Alert, e)
			parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					assert.True(t, exported[vs.Name], "%s uses %q, which the exporter does not export", r.Alert, vs.Name)
					if i == 0 { // annotation queries select the alert's own labels
						assert.Contains(t, vs.String(), `job="dispatch"`, "%s: every selector is adaptable the same way", r.Alert)
					}
				}
				return nil
			})
		}
	}
}

// TestInhibitions checks alertmanager.yml's inhibit rules by their
// matchers and equal labels: which alert, firing, mutes which other of the
// same loop. Above all, nothing mutes DispatchRestartsNotHelping: it says
// what no other alert does (automation restarted the daemon and gave up),
// so it reaches a person even while DispatchDaemonWedged pages.
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
	for _, r := range loadRules(t) {
		severity[r.Alert] = r.Labels["severity"]
	}
	alert := func(name string) labels.Labels {
		require.Contains(t, severity, name)
		return labels.FromStrings("alertname", name, "severity", severity[name], "job", "dispatch", "instance", "a:9847", "loop", "dispatch")
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
			require.Subset(t, []string{"job", "instance", "loop"}, r.Equal, "rules keep job, instance, loop; equal uses no other label")
			if matches(r.SourceMatchers, src) && matches(r.TargetMatchers, tgt) {
				return true
			}
		}
		return false
	}

	for source := range severity {
		assert.False(t, mutes(source, "DispatchRestartsNotHelping"), "%s must not mute DispatchRestartsNotHelping", source)
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
	} {
		assert.Equal(t, c.want, mutes(c.source, c.target), "%s mutes %s", c.source, c.target)
	}
}
