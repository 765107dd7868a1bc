package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runbook's systemd commands name either the exporter's unit, the one
// deploy/systemd installs (TestSystemdUnit runs systemd-analyze verify on
// it), or the daemon's, which the runbook calls smithy and tells the
// reader to rename. journalctl runs for real, on an empty journal directory
// (so its flags and times must parse); systemctl cannot act without a
// running manager, so its verb, flags and unit are checked against what the
// unit file supports.

// daemonUnit is the name the runbook gives the daemon's own unit.
const daemonUnit = "smithy"

func TestRunbookSystemdCommandsNameTheDeployedUnit(t *testing.T) {
	t.Parallel()
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skip("journalctl not on this machine")
	}
	runbook, err := os.ReadFile("../alerts/RUNBOOK.md")
	require.NoError(t, err)
	assert.Contains(t, string(runbook), "the daemon's unit is called\n`"+daemonUnit+"` here", "the runbook says which unit name stands for the daemon's")
	unit, err := os.ReadFile("systemd/dispatch_exporter.service")
	require.NoError(t, err)
	units := map[string]bool{"dispatch_exporter": true, daemonUnit: true}

	// What a verb needs of a unit file we ship.
	needs := map[string]*regexp.Regexp{
		"status": nil, "cat": nil, "start": nil, "stop": nil, "restart": nil,
		"reload": regexp.MustCompile(`(?m)^ExecReload=`),
	}
	journal := t.TempDir() // an empty journal
	for _, c := range runbookCommands(t, "systemd") {
		line := firstCommand(c.line)
		args := strings.Fields(line)
		switch args[0] {
		case "journalctl":
			var named []string
			for i, a := range args {
				if a == "-u" && i+1 < len(args) {
					named = append(named, args[i+1])
				}
			}
			assert.NotEmpty(t, named, "%s: %q reads one unit's journal", c.section, line)
			for _, u := range named {
				assert.True(t, units[u], "%s: %q names unit %s: neither the exporter's nor the daemon's", c.section, line, u)
			}
			out, err := exec.Command(journalctl, append(args[1:], "--directory="+journal)...).CombinedOutput()
			assert.NoError(t, err, "%s: %q:\n%s", c.section, line, out)
		case "systemctl":
			require.GreaterOrEqual(t, len(args), 3, "%s: %q: a verb and a unit", c.section, line)
			verb := args[1]
			need, ok := needs[verb]
			assert.True(t, ok, "%s: %q: verb %s", c.section, line, verb)
			var named []string
			for _, a := range args[2:] {
				if strings.HasPrefix(a, "-") {
					assert.Equal(t, "--no-pager", a, "%s: %q: a flag this test knows", c.section, line)
					continue
				}
				named = append(named, a)
			}
			if assert.Len(t, named, 1, "%s: %q: one unit", c.section, line) {
				assert.True(t, units[named[0]], "%s: %q names unit %s: neither the exporter's nor the daemon's", c.section, line, named[0])
				if named[0] == "dispatch_exporter" && need != nil {
					assert.Regexp(t, need, string(unit), "%s: %q needs the unit to support %s", c.section, line, verb)
				}
			}
		default:
			t.Errorf("%s: %q is no systemd command", c.section, line)
		}
	}

	// journalctl must be able to refuse: a time that does not parse.
	out, err := exec.Command(journalctl, "-u", "dispatch_exporter", "--since=2h", "--no-pager", "--directory="+journal).CombinedOutput()
	assert.Error(t, err, "journalctl refuses --since=2h: %s", out)
}
