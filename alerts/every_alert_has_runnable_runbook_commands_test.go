package alerts

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/alerts/runbook"
	"github.com/stoneforge/dispatch_exporter/collector/family"
)

// The runbook's commands are fenced blocks whose info string names where
// they run, e.g. "```sh runbook=kubernetes"; package runbook reads them
// for these tests and for the ones that run them (deploy/ for kubectl and
// systemd, e2e/ for curl and the bare process). A section of a new alert
// only has to follow the same format to be checked and run.

// anyFenceRE finds every fenced block: none may go untagged by mistake
// ("```sh" alone would be a command no test runs).
var anyFenceRE = regexp.MustCompile("(?m)^```(\\S*)(.*)$")

// commandsByTag is which programs each tag may run: exactly those its
// runner test knows how to run.
var commandsByTag = map[string][]string{
	"kubernetes": {"kubectl"},                            // deploy: against a fake API server serving the rendered manifests
	"systemd":    {"journalctl", "systemctl"},            // deploy: against the unit in deploy/systemd
	"process":    {"pgrep", "kill", "dispatch_exporter"}, // e2e: beside a process started by the test
	"local":      {"curl"},                               // e2e: against a running exporter and daemon
}

func readRunbook(t *testing.T) []runbook.Section {
	t.Helper()
	b, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	sections := runbook.Parse(string(b))
	require.NotEmpty(t, sections)
	return sections
}

func TestEveryAlertHasARunbookWithCommandsForEachPlatform(t *testing.T) {
	t.Parallel()
	sections := map[string]runbook.Section{}
	for _, s := range readRunbook(t) {
		sections[s.Title] = s
	}
	alerts := map[string]bool{}
	for _, r := range loadAlerts(t) {
		alerts[r.Alert] = true
		s, ok := sections[r.Alert]
		if !assert.True(t, ok, "RUNBOOK.md has a section ## %s", r.Alert) {
			continue
		}
		for _, part := range []string{"**Means.**", "**Check.**", "**Do.**", "**Confirm the fix.**"} {
			assert.Contains(t, s.Text, part, "%s: the runbook says what it %s", r.Alert, strings.Trim(part, "*."))
		}
		where := map[string]int{}
		confirmed := false
		for _, b := range s.Blocks {
			where[b.Where]++
			confirmed = confirmed || b.Confirm
		}
		assert.NotZero(t, where["kubernetes"], "%s: commands for Kubernetes (```sh runbook=kubernetes)", r.Alert)
		assert.NotZero(t, where["systemd"], "%s: commands for systemd (```sh runbook=systemd)", r.Alert)
		assert.NotZero(t, where["process"]+where["local"], "%s: commands for a bare process (```sh runbook=process or runbook=local)", r.Alert)
		assert.True(t, confirmed, "%s: \"Confirm the fix.\" shows a command or query that says it is over", r.Alert)
	}
	for title := range sections {
		if strings.HasPrefix(title, "Dispatch") {
			assert.True(t, alerts[title], "RUNBOOK.md's section %s names no alert of dispatch.rules.yml", title)
		}
	}
}

func TestRunbookCommandsAreOnesTheirTestsRun(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	for _, m := range anyFenceRE.FindAllStringSubmatch(string(b), -1) {
		if m[1] == "" && m[2] == "" {
			continue // a closing fence, or a block of placeholders shown, not run
		}
		assert.Regexp(t, `^ runbook=\w+$`, m[2], "every fenced block with a language is tagged with where it runs: %q", m[0])
	}

	seen := map[string]int{}
	for _, s := range readRunbook(t) {
		for _, blk := range s.Blocks {
			seen[blk.Where]++
			if blk.Where == "promql" {
				continue // checked below
			}
			allowed, ok := commandsByTag[blk.Where]
			if !assert.True(t, ok, "%s: unknown tag runbook=%s", s.Title, blk.Where) {
				continue
			}
			assert.Equal(t, "sh", blk.Lang, "%s: runbook=%s blocks are shell", s.Title, blk.Where)
			lines := runbook.Lines(blk.Body)
			assert.NotEmpty(t, lines, "%s: an empty runbook=%s block", s.Title, blk.Where)
			for _, line := range lines {
				assert.Contains(t, allowed, strings.Fields(line)[0],
					"%s: %q runs in a runbook=%s block, whose test runs only %v", s.Title, line, blk.Where, allowed)
				assert.False(t, strings.HasSuffix(line, `\`), "%s: one command a line: %q", s.Title, line)
			}
		}
	}
	for tag := range commandsByTag {
		assert.NotZero(t, seen[tag], "no runbook=%s block at all", tag)
	}
}

// TestRunbookQueriesParse parses every PromQL block with Prometheus' parser
// and checks its metric names against what the exporter exports, as the
// rules' own test does: the exporter's series, Prometheus' up, and the
// series the rules file records.
func TestRunbookQueriesParse(t *testing.T) {
	t.Parallel()
	exported := family.SeriesNames()
	exported["up"] = true // Prometheus' own
	for _, r := range loadRules(t) {
		if r.Record != "" {
			exported[r.Record] = true
		}
	}
	p := parser.NewParser(parser.Options{})
	n := 0
	for _, s := range readRunbook(t) {
		for _, blk := range s.Blocks {
			if blk.Where != "promql" {
				continue
			}
			assert.Equal(t, "promql", blk.Lang, s.Title)
			for _, q := range runbook.Lines(blk.Body) {
				n++
				ast, err := p.ParseExpr(q)
				if !assert.NoError(t, err, "%s: %s", s.Title, q) {
					continue
				}
				parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
					if vs, ok := node.(*parser.VectorSelector); ok {
						assert.True(t, exported[vs.Name], "%s: %q is not exported", s.Title, vs.Name)
					}
					return nil
				})
			}
		}
	}
	assert.NotZero(t, n, "the runbook has queries")
}
