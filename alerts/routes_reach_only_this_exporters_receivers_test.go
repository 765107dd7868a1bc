package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// receiverOf is where each severity of this exporter's alerts goes.
var receiverOf = map[string]string{
	"critical": "dispatch-pager",
	"warning":  "dispatch-chat",
	"info":     "dispatch-ticket",
}

// routesTo asks amtool which receivers an alert with these labels reaches
// under config, and checks they are want (in routing-tree order).
func routesTo(t *testing.T, amtool, config string, want string, labels map[string]string) {
	t.Helper()
	args := []string{"config", "routes", "test", "--config.file=" + config, "--verify.receivers=" + want}
	for k, v := range labels {
		args = append(args, k+"="+v)
	}
	out, err := exec.Command(amtool, args...).CombinedOutput()
	assert.NoError(t, err, "amtool %s:\n%s", strings.Join(args, " "), out)
}

// TestRoutesSendEachAlertToItsReceiver: every alert of the rule file, with
// the labels the rules give it, reaches its severity's dispatch receiver;
// alerts of other teams, even one named Dispatch..., reach none of them.
func TestRoutesSendEachAlertToItsReceiver(t *testing.T) {
	t.Parallel()
	amtool := dispatchtest.Tool(t, "AMTOOL")
	sev := severities(t)
	for name, s := range sev {
		for _, cluster := range []string{"", "eu"} {
			routesTo(t, amtool, "alertmanager.yml", receiverOf[s], alertLabels(t, sev, name, cluster, "a:9847", "dispatch"))
		}
	}
	routesTo(t, amtool, "alertmanager.yml", "default", map[string]string{"alertname": "DiskFull", "severity": "critical"})
	routesTo(t, amtool, "alertmanager.yml", "default", map[string]string{"alertname": "DispatchQueueFull", "severity": "critical", "job": "dispatch"})
}

// foreignConfig is another team's Alertmanager config, with routes that
// match on severity alone, into which alertmanager.yml's subtree and
// receivers are pasted as the README says: the subtree first under the
// root's routes, the receivers under receivers.
const foreignConfig = `route:
  receiver: ops-default
  group_by: [alertname]
  routes:
%s    - matchers: ['severity="critical"']
      receiver: ops-pager
    - matchers: ['severity="warning"']
      receiver: ops-chat
receivers:
  - name: ops-default
  - name: ops-pager
  - name: ops-chat
%s`

// TestRouteSubtreePastesUnderAForeignRoot: pasted into another team's
// config, the subtree and receivers are valid (amtool check-config), catch
// every alert of this exporter and none of the other team's.
func TestRouteSubtreePastesUnderAForeignRoot(t *testing.T) {
	t.Parallel()
	amtool := dispatchtest.Tool(t, "AMTOOL")
	config := filepath.Join(t.TempDir(), "alertmanager.yml")
	pasted := strings.ReplaceAll(foreignConfig, "%s", "\x00")
	parts := strings.Split(pasted, "\x00")
	require.Len(t, parts, 3)
	body := parts[0] + between(t, "alertmanager.yml", routeBegin, routeEnd) + parts[1] + between(t, "alertmanager.yml", receiverBegin, receiverEnd) + parts[2]
	require.NoError(t, os.WriteFile(config, []byte(body), 0o600))
	runTool(t, amtool, "check-config", config)

	sev := severities(t)
	for name, s := range sev {
		routesTo(t, amtool, config, receiverOf[s], alertLabels(t, sev, name, "eu", "a:9847", "dispatch"))
	}
	routesTo(t, amtool, config, "ops-pager", map[string]string{"alertname": "DiskFull", "severity": "critical"})
	routesTo(t, amtool, config, "ops-chat", map[string]string{"alertname": "DispatchQueueFull", "severity": "warning", "job": "dispatch"})
	routesTo(t, amtool, config, "ops-default", map[string]string{"alertname": "Watchdog", "severity": "none"})
}

// TestReadmeShowsTheRouteSubtree: the README's routing section shows the
// subtree and receivers to paste exactly as alertmanager.yml has them.
func TestReadmeShowsTheRouteSubtree(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, part := range []string{
		between(t, "alertmanager.yml", routeBegin, routeEnd),
		between(t, "alertmanager.yml", receiverBegin, receiverEnd),
	} {
		require.NotEmpty(t, strings.TrimSpace(part))
		assert.True(t, strings.Contains(string(readme), part), "README.md shows alertmanager.yml's lines verbatim:\n%s", part)
	}
}
