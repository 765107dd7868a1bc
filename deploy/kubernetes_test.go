package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	goyaml "go.yaml.in/yaml/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decodeStrict decodes a manifest into the API's own Go types, rejecting
// unknown fields: a misspelt field name (readOnlyRootFilesytem) or a wrong
// type fails here, as kubeconform would with the schemas at hand offline.
func decodeStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(b, into), path)
}

func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func TestKubernetesDeployment(t *testing.T) {
	t.Parallel()
	var d appsv1.Deployment
	decodeStrict(t, "kubernetes/deployment.yml", &d)
	assert.Equal(t, "apps/v1", d.APIVersion)
	assert.Equal(t, "Deployment", d.Kind)
	require.NotNil(t, d.Spec.Selector)
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "the selector matches the pod template")
	}

	exporter := container(t, &d, "dispatch-exporter")
	var metricsPort int32
	for _, p := range exporter.Ports {
		if p.Name == "metrics" {
			metricsPort = p.ContainerPort
		}
	}
	assert.Equal(t, int32(9847), metricsPort)
	assert.Contains(t, exporter.Args, "--target.url=http://localhost:3457/api/daemon/status", "the sidecar reads the daemon in its pod")
	sc := exporter.SecurityContext
	require.NotNil(t, sc)
	assert.True(t, *sc.RunAsNonRoot)
	assert.Equal(t, int64(65534), *sc.RunAsUser, "the image's user")
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.False(t, exporter.Resources.Requests.Memory().IsZero())
	assert.False(t, exporter.Resources.Limits.Memory().IsZero())
	assert.Greater(t, exporter.Resources.Limits.Memory().Value(), int64(30<<20), "above the 26 MiB measured at 1,000 targets")

	daemon := container(t, &d, "smithy")
	probe := daemon.LivenessProbe
	require.NotNil(t, probe, "the daemon's liveness is the sidecar's verdict")
	require.NotNil(t, probe.HTTPGet)
	assert.Equal(t, "/-/target/healthy", probe.HTTPGet.Path)
	assert.Equal(t, metricsPort, probe.HTTPGet.Port.IntVal, "the probe reaches the sidecar's port in the same pod")
	assert.GreaterOrEqual(t, probe.TimeoutSeconds, int32(3), "above --liveness.timeout (2s)")
	assert.GreaterOrEqual(t, probe.PeriodSeconds*probe.FailureThreshold, int32(30), "consecutive failures over at least 30s")
}

func TestKubernetesPodMonitor(t *testing.T) {
	t.Parallel()
	var pm monitoringv1.PodMonitor
	decodeStrict(t, "kubernetes/podmonitor.yml", &pm)
	var d appsv1.Deployment
	decodeStrict(t, "kubernetes/deployment.yml", &d)
	for k, v := range pm.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "the PodMonitor selects the Deployment's pods")
	}
	require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
	ep := pm.Spec.PodMetricsEndpoints[0]
	assert.Equal(t, "metrics", *ep.Port)
	var job string
	for _, r := range ep.RelabelConfigs {
		if r.TargetLabel == "job" {
			job = *r.Replacement
		}
	}
	assert.Equal(t, "dispatch", job, "the job the bundled rules select")
}

// TestPrometheusRuleIsTheRuleFile: the PrometheusRule's groups are exactly
// alerts/dispatch.rules.yml's, and the committed file is what go generate
// writes.
func TestPrometheusRuleIsTheRuleFile(t *testing.T) {
	t.Parallel()
	var pr monitoringv1.PrometheusRule
	decodeStrict(t, "kubernetes/prometheusrule.yml", &pr)
	assert.Equal(t, "PrometheusRule", pr.Kind)

	var rules, generated struct {
		Groups any `yaml:"groups"`
	}
	b, err := os.ReadFile("../alerts/dispatch.rules.yml")
	require.NoError(t, err)
	require.NoError(t, goyaml.Unmarshal(b, &rules))
	b, err = os.ReadFile("kubernetes/prometheusrule.yml")
	require.NoError(t, err)
	var doc struct {
		Spec struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	require.NoError(t, goyaml.Unmarshal(b, &doc))
	generated.Groups = doc.Spec.Groups
	assert.Equal(t, rules.Groups, generated.Groups, "run go generate ./deploy")
	assert.Len(t, pr.Spec.Groups[0].Rules, 9)
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	t.Parallel()
	var k struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
	}
	b, err := os.ReadFile("kubernetes/kustomization.yml")
	require.NoError(t, err)
	require.NoError(t, goyaml.UnmarshalStrict(b, &k))
	manifests, err := filepath.Glob("kubernetes/*.yml")
	require.NoError(t, err)
	for _, m := range manifests {
		if name := filepath.Base(m); !strings.HasPrefix(name, "kustomization") {
			assert.Contains(t, k.Resources, name)
		}
	}
}

func TestStrictDecodingCatchesTypos(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kubernetes/deployment.yml")
	require.NoError(t, err)
	typo := strings.Replace(string(b), "readOnlyRootFilesystem", "readOnlyRootFilesytem", 1)
	var d appsv1.Deployment
	err = yaml.UnmarshalStrict([]byte(typo), &d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "readOnlyRootFilesytem"`)
}
