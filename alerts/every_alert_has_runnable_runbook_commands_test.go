package alerts

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/family"
)

// The runbook's commands are fenced blocks whose info string names where
// they run, e.g. "```sh runbook=kubernetes"; the tests that run them
// (deploy/ for kubectl and systemd, e2e/ for curl and the bare process)
// read the same tags. A section of a new alert only has to follow the same
// format to be checked and run.

// runbookBlock is one tagged fenced block of RUNBOOK.md.
type runbookBlock struct {
	lang, where, body string
	// confirm: the block is in the section's "Confirm the fix." part.
	confirm bool
}

// runbookSection is one "## Heading" of RUNBOOK.md.
type runbookSection struct {
	title, text string
	blocks      []runbookBlock
}

var (
	fenceRE = regexp.MustCompile("(?s)```(\\w+) runbook=(\\w+)\n(.*?)```")
	// anyFenceRE finds every fenced block: none may go untagged by mistake
	// ("```sh" alone would be a command no test runs).
	anyFenceRE = regexp.MustCompile("(?m)^```(\\S*)(.*)$")
)

// commandsByTag is which programs each tag may run: exactly those its
// runner test knows how to run.
var commandsByTag = map[string][]string{
	"kubernetes": {"kubectl"},                            // deploy: against a fake API server serving the rendered manifests
	"systemd":    {"journalctl", "systemctl"},            // deploy: against the unit in deploy/systemd
	"process":    {"pgrep", "kill", "dispatch_exporter"}, // e2e: beside a process started by the test
	"local":      {"curl"},                               // e2e: against a running exporter and daemon
}

func readRunbook(t *testing.T) []runbookSection {
	t.Helper()
	b, err := os.ReadFile("RUNBOOK.md")
	require.NoError(t, err)
	var sections []runbookSection
	for _, part := range strings.Split("\n"+string(b), "\n## ")[1:] {
		title, text, _ := strings.Cut(part, "\n")
		s := runbookSection{title: strings.TrimSpace(title), text: text}
		_, confirmPart, _ := strings.Cut(text, "**Confirm the fix.**")
		confirmAt := len(text) - len(confirmPart)
		for _, m := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
			s.blocks = append(s.blocks, runbookBlock{
				lang: text[m[2]:m[3]], where: text[m[4]:m[5]], body: text[m[6]:m[7]],
				confirm: confirmPart != "" && m[0] >= confirmAt,
			})
		}
		sections = append(sections, s)
	}
	require.NotEmpty(t, sections)
	return sections
}

// commandLines are a block's commands: one a line, comments and blank
// lines left out.
func commandLines(body string) []string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestEveryAlertHasARunbookWithCommandsForEachPlatform(t *testing.T) {
	t.Parallel()
	sections := map[string]runbookSection{}
	for _, s := range readRunbook(t) {
		sections[s.title] = s
	}
	alerts := map[string]bool{}
	for _, r := range loadAlerts(t) {
		alerts[r.Alert] = true
		s, ok := sections[r.Alert]
		if !assert.True(t, ok, "RUNBOOK.md has a section ## %s", r.Alert) {
			continue
		}
		for _, part := range []string{"**Means.**", "**Check.**", "**Do.**", "**Confirm the fix.**"} {
			assert.Contains(t, s.text, part, "%s: the runbook says what it %s", r.Alert, strings.Trim(part, "*."))
		}
		where := map[string]int{}
		confirmed := false
		for _, b := range s.blocks {
			where[b.where]++
			confirmed = confirmed || b.confirm
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
		for _, blk := range s.blocks {
			seen[blk.where]++
			if blk.where == "promql" {
				continue // checked below
			}
			allowed, ok := commandsByTag[blk.where]
			if !assert.True(t, ok, "%s: unknown tag runbook=%s", s.title, blk.where) {
				continue
			}
			assert.Equal(t, "sh", blk.lang, "%s: runbook=%s blocks are shell", s.title, blk.where)
			lines := commandLines(blk.body)
			assert.NotEmpty(t, lines, "%s: an empty runbook=%s block", s.title, blk.where)
			for _, line := range lines {
				assert.Contains(t, allowed, strings.Fields(line)[0],
					"%s: %q runs in a runbook=%s block, whose test runs only %v", s.title, line, blk.where, allowed)
				assert.False(t, strings.HasSuffix(line, `\`), "%s: one command a line: %q", s.title, line)
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
		for _, blk := range s.blocks {
			if blk.where != "promql" {
				continue
			}
			assert.Equal(t, "promql", blk.lang, s.title)
			for _, q := range commandLines(blk.body) {
				n++
				ast, err := p.ParseExpr(q)
				if !assert.NoError(t, err, "%s: %s", s.title, q) {
					continue
				}
				parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
					if vs, ok := node.(*parser.VectorSelector); ok {
						assert.True(t, exported[vs.Name], "%s: %q is not exported", s.title, vs.Name)
					}
					return nil
				})
			}
		}
	}
	assert.NotZero(t, n, "the runbook has queries")
}
