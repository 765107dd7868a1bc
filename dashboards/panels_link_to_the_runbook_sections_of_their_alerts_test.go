package dashboards

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
)

// TestPanelsLinkToTheRunbookSectionsOfTheirAlerts: the dashboard links to
// the runbook; every panel link is the runbook_url of an alert in
// alerts/dispatch.rules.yml, whose section alerts/RUNBOOK.md has; and every
// alert there is linked from a panel that shows its evidence, so an alert
// renamed or added without its panel fails here.
func TestPanelsLinkToTheRunbookSectionsOfTheirAlerts(t *testing.T) {
	t.Parallel()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(filepath.Join("..", "alerts", "dispatch.rules.yml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &rules))
	runbookURLs := map[string]string{} // runbook_url -> alert
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				require.Equal(t, RunbookSection(r.Alert), r.Annotations["runbook_url"], "the runbook_url of %s is where the dashboard links", r.Alert)
				runbookURLs[r.Annotations["runbook_url"]] = r.Alert
			}
		}
	}
	require.NotEmpty(t, runbookURLs)
	runbook, err := os.ReadFile(filepath.Join("..", "alerts", "RUNBOOK.md"))
	require.NoError(t, err)

	d, err := Dispatch()
	require.NoError(t, err)
	require.Len(t, d.Links, 1)
	require.NotNil(t, d.Links[0].Url)
	assert.Equal(t, RunbookURL, *d.Links[0].Url, "the dashboard links to the runbook")
	assert.Nil(t, d.Links[0].Placement, "shown above the panels, where Grafana 10.4 and 11.x show links")

	linked := map[string][]string{} // alert -> panel titles
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, l := range p.Panel.Links {
			require.NotNil(t, l.Url)
			alert, ok := runbookURLs[*l.Url]
			if !assert.True(t, ok, "panel %q links to %s, no alert's runbook_url", *p.Panel.Title, *l.Url) {
				continue
			}
			assert.Regexp(t, regexp.MustCompile(`(?m)^## `+alert+`$`), string(runbook), "RUNBOOK.md has the section %q links to", *p.Panel.Title)
			assert.True(t, l.TargetBlank, "the runbook opens beside the dashboard")
			linked[alert] = append(linked[alert], *p.Panel.Title)
		}
	}
	for _, alert := range runbookURLs {
		assert.NotEmpty(t, linked[alert], "no panel links to the runbook of %s", alert)
	}
	assert.ElementsMatch(t, []string{"State", "No cycle completed for, of the threshold", "Time since last completed cycle vs threshold", "Wedged, stuck, in flight", "The daemon's own view"},
		linked["DispatchDaemonWedged"], "the page's evidence links to its runbook")
}
