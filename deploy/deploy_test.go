// Package deploy holds the deployment examples users copy; this test checks
// them with the real promtool and amtool, and checks what those cannot.
package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

func TestPrometheusConfigs(t *testing.T) {
	t.Parallel()
	promtool := dispatchtest.Tool(t, "PROMTOOL")
	rules, err := os.ReadFile(filepath.Join("..", "alerts", "dispatch.rules.yml"))
	require.NoError(t, err)
	want := fmt.Sprintf("SUCCESS: %d rules found", strings.Count(string(rules), "- alert: ")+strings.Count(string(rules), "- record: "))
	for _, f := range []string{"prometheus/sidecar.yml", "prometheus/probe.yml", "docker-compose/prometheus/prometheus.yml"} {
		out, err := exec.Command(promtool, "check", "config", f).CombinedOutput()
		assert.NoError(t, err, "promtool check config %s:\n%s", f, out)
		assert.Contains(t, string(out), want, "%s loads every bundled rule", f)
	}
}

type compose struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Build       string            `yaml:"build"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Volumes     []string          `yaml:"volumes"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   []string          `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestDockerCompose checks the compose file's wiring: every mounted file
// exists in the repo, the Alertmanager it mounts passes amtool, and the
// exporter image is the repo's own build.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("docker-compose/docker-compose.yml")
	require.NoError(t, err)
	var c compose
	require.NoError(t, yaml.UnmarshalStrict(b, &c))
	for _, want := range []string{"demo", "sidecar", "prometheus", "alertmanager", "grafana"} {
		require.Contains(t, c.Services, want)
	}
	assert.Equal(t, "../..", c.Services["demo"].Build, "the exporter is built from this repo's Dockerfile")
	_, err = os.Stat(filepath.Join("docker-compose", c.Services["demo"].Build, "Dockerfile"))
	assert.NoError(t, err, "the Dockerfile compose builds")

	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			_, err := os.Stat(filepath.Join("docker-compose", src))
			assert.NoError(t, err, "%s mounts %s", name, src)
		}
		for _, d := range s.DependsOn {
			assert.Contains(t, c.Services, d, "%s depends on %s", name, d)
		}
	}
	assert.Contains(t, c.Services["alertmanager"].Command, "--cluster.listen-address=")
	amConfig := ""
	for _, v := range c.Services["alertmanager"].Volumes {
		if strings.HasSuffix(strings.Split(v, ":")[0], "alertmanager.yml") {
			amConfig = filepath.Join("docker-compose", strings.Split(v, ":")[0])
		}
	}
	require.NotEmpty(t, amConfig)
	out, err := exec.Command(dispatchtest.Tool(t, "AMTOOL"), "check-config", amConfig).CombinedOutput()
	assert.NoError(t, err, "amtool check-config %s:\n%s", amConfig, out)
}
