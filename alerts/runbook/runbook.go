// Package runbook reads alerts/RUNBOOK.md's command blocks: fenced blocks
// whose info string names where they run, e.g. "```sh runbook=kubernetes".
// The alerts tests check the format; deploy/ (kubectl, systemd) and e2e/
// (curl, the bare process) run the commands. One reader, so a block the
// format check accepts is one the runners find.
package runbook

import (
	"regexp"
	"strings"
)

// Block is one tagged fenced block.
type Block struct {
	Lang, Where, Body string
	// Confirm: the block is in its section's "Confirm the fix." part.
	Confirm bool
}

// Section is one "## Heading" of the runbook.
type Section struct {
	Title, Text string
	Blocks      []Block
}

var fenceRE = regexp.MustCompile("(?s)```(\\w+) runbook=(\\w+)\n(.*?)```")

// Parse splits a runbook into its sections and their tagged blocks.
func Parse(md string) []Section {
	var sections []Section
	for _, part := range strings.Split("\n"+md, "\n## ")[1:] {
		title, text, _ := strings.Cut(part, "\n")
		s := Section{Title: strings.TrimSpace(title), Text: text}
		_, confirmPart, _ := strings.Cut(text, "**Confirm the fix.**")
		confirmAt := len(text) - len(confirmPart)
		for _, m := range fenceRE.FindAllStringSubmatchIndex(text, -1) {
			s.Blocks = append(s.Blocks, Block{
				Lang: text[m[2]:m[3]], Where: text[m[4]:m[5]], Body: text[m[6]:m[7]],
				Confirm: confirmPart != "" && m[0] >= confirmAt,
			})
		}
		sections = append(sections, s)
	}
	return sections
}

// Lines are a block's commands: one a line, comments and blank lines left
// out.
func Lines(body string) []string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}
