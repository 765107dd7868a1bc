package deploy

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	goyaml "go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
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

// container finds a container, or a (sidecar) init container, by name.
func container(t *testing.T, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
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
	assert.Equal(t, "stoneforge/dispatch_exporter:"+versionFile(t), exporter.Image, "the image make docker tags")
	sc := exporter.SecurityContext
	require.NotNil(t, sc)
	assert.True(t, *sc.RunAsNonRoot)
	assert.Equal(t, int64(65534), *sc.RunAsUser, "the image's user")
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.False(t, exporter.Resources.Requests.Memory().IsZero())
	assert.GreaterOrEqual(t, exporter.Resources.Limits.Memory().Value(), int64(100<<20), "well above the 37.6 MiB peak measured at 1,000 targets: no OOM kill in normal use")

	// The exporter's own failure cannot restart the daemon: it is a native
	// sidecar, started (and ready) before smithy, restarted on its own.
	require.Len(t, d.Spec.Template.Spec.InitContainers, 1)
	assert.Equal(t, "dispatch-exporter", d.Spec.Template.Spec.InitContainers[0].Name, "a native sidecar")
	require.NotNil(t, exporter.RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *exporter.RestartPolicy, "a native sidecar is restarted on its own")
	assert.Equal(t, corev1.PullIfNotPresent, exporter.ImagePullPolicy, "a restart does not wait for a pull")
	require.NotNil(t, exporter.StartupProbe, "smithy starts once the exporter answers")
	assert.Equal(t, "/-/ready", exporter.StartupProbe.HTTPGet.Path)
	require.NotNil(t, exporter.LivenessProbe)
	assert.Equal(t, "/-/healthy", exporter.LivenessProbe.HTTPGet.Path, "the exporter's own liveness restarts the exporter only")

	daemon := container(t, &d, "smithy")
	probe := daemon.LivenessProbe
	require.NotNil(t, probe, "the daemon's liveness is the sidecar's verdict")
	require.NotNil(t, probe.HTTPGet)
	assert.Equal(t, "/-/target/healthy", probe.HTTPGet.Path)
	assert.Equal(t, metricsPort, probe.HTTPGet.Port.IntVal, "the probe reaches the sidecar's port in the same pod")
	assert.GreaterOrEqual(t, probe.TimeoutSeconds, int32(3), "above --liveness.timeout (2s)")
	assert.GreaterOrEqual(t, probe.PeriodSeconds*probe.FailureThreshold, int32(60),
		"consecutive failures over a minute: more than a crashed sidecar's restart takes")
	assert.Empty(t, probe.HTTPGet.Scheme, "plain HTTP without --web.config.file: see ../kubernetes-web-config/")
	own := exporter.LivenessProbe
	assert.Less(t, own.PeriodSeconds*own.FailureThreshold, probe.PeriodSeconds*probe.FailureThreshold,
		"a hung exporter is restarted before the daemon's probe could fail because of it")
	pod := d.Spec.Template.Spec
	require.NotNil(t, pod.TerminationGracePeriodSeconds, "the pod states its termination grace")
	assert.Contains(t, exporter.Args, fmt.Sprintf("--liveness.termination-grace=%ds", *pod.TerminationGracePeriodSeconds),
		"the process after a restart gets its grace from after the killed one's termination grace")
	assert.Contains(t, exporter.Args, fmt.Sprintf("--liveness.failure-threshold=%d", probe.FailureThreshold),
		"one restart request answers the kubelet's failureThreshold of 503s: fewer and a hung daemon is never restarted, more and the new process is shot too")
}

// TestKubernetesWebConfig: with --web.config.file (TLS and basic auth),
// every probe of the exporter's port speaks HTTPS and sends credentials
// the web config accepts; the PodMonitor scrapes with the ones it lists.
func TestKubernetesWebConfig(t *testing.T) {
	t.Parallel()
	var k struct {
		APIVersion string                  `yaml:"apiVersion"`
		Kind       string                  `yaml:"kind"`
		Resources  []string                `yaml:"resources"`
		Patches    []struct{ Path string } `yaml:"patches"`
	}
	b, err := os.ReadFile("kubernetes-web-config/kustomization.yml")
	require.NoError(t, err)
	require.NoError(t, goyaml.UnmarshalStrict(b, &k))
	assert.Equal(t, []string{"../kubernetes", "web-config.yml"}, k.Resources, "the base is a sibling: kustomize refuses an overlay inside its base")
	require.Len(t, k.Patches, 2)
	for _, p := range k.Patches {
		_, err := os.Stat(filepath.Join("kubernetes-web-config", p.Path))
		assert.NoError(t, err)
	}

	var secret corev1.Secret
	decodeStrict(t, "kubernetes-web-config/web-config.yml", &secret)
	var webConfig web.Config
	require.NoError(t, goyaml.UnmarshalStrict([]byte(secret.StringData["web-config.yml"]), &webConfig))
	require.NotEmpty(t, webConfig.Users)

	var base, patch appsv1.Deployment
	decodeStrict(t, "kubernetes/deployment.yml", &base)
	decodeStrict(t, "kubernetes-web-config/deployment-patch.yml", &patch)
	assert.Equal(t, base.Name, patch.Name)

	exporter := container(t, &patch, "dispatch-exporter")
	assert.Contains(t, exporter.Args, "--web.config.file=/etc/dispatch_exporter/web-config.yml")
	baseExporter := container(t, &base, "dispatch-exporter")
	for _, a := range baseExporter.Args {
		assert.Contains(t, exporter.Args, a, "the patch replaces the list of args: it keeps the base's")
	}
	mounts := map[string]string{}
	for _, m := range exporter.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	assert.Equal(t, "/etc/dispatch_exporter/web-config.yml", mounts["web-config"])
	assert.Equal(t, "/etc/dispatch_exporter/tls", filepath.Dir(webConfig.TLSConfig.TLSCertPath))
	assert.Equal(t, "/etc/dispatch_exporter/tls", mounts["tls"])
	volumes := map[string]string{}
	for _, v := range patch.Spec.Template.Spec.Volumes {
		require.NotNil(t, v.Secret)
		volumes[v.Name] = v.Secret.SecretName
	}
	assert.Equal(t, secret.Name, volumes["web-config"])
	assert.NotEmpty(t, volumes["tls"])

	// Every probe the base sends to the exporter's port has its HTTPS,
	// authenticated counterpart in the patch.
	checkProbe := func(what string, p *corev1.Probe) {
		require.NotNil(t, p, what)
		require.NotNil(t, p.HTTPGet, what)
		assert.Equal(t, corev1.URISchemeHTTPS, p.HTTPGet.Scheme, what)
		require.Len(t, p.HTTPGet.HTTPHeaders, 1, what)
		h := p.HTTPGet.HTTPHeaders[0]
		assert.Equal(t, "Authorization", h.Name, what)
		creds, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Value, "Basic "))
		require.NoError(t, err, what)
		user, pass, ok := strings.Cut(string(creds), ":")
		require.True(t, ok, what)
		hash, ok := webConfig.Users[user]
		require.True(t, ok, "%s: user %s is in the web config", what, user)
		assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)), "%s: the web config accepts the probe's password", what)
	}
	checkProbe("exporter startupProbe", exporter.StartupProbe)
	checkProbe("exporter readinessProbe", exporter.ReadinessProbe)
	checkProbe("exporter livenessProbe", exporter.LivenessProbe)
	daemon := container(t, &patch, "smithy")
	checkProbe("smithy livenessProbe", daemon.LivenessProbe)
	assert.Equal(t, container(t, &base, "smithy").LivenessProbe.HTTPGet.Path, daemon.LivenessProbe.HTTPGet.Path)

	var pm monitoringv1.PodMonitor
	decodeStrict(t, "kubernetes-web-config/podmonitor-patch.yml", &pm)
	require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
	ep := pm.Spec.PodMetricsEndpoints[0]
	require.NotNil(t, ep.Scheme)
	assert.Equal(t, "HTTPS", string(*ep.Scheme))
	require.NotNil(t, ep.BasicAuth)
	assert.Equal(t, secret.Name, ep.BasicAuth.Username.Name)
	user := secret.StringData[ep.BasicAuth.Username.Key]
	pass := secret.StringData[ep.BasicAuth.Password.Key]
	require.Contains(t, webConfig.Users, user)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(webConfig.Users[user]), []byte(pass)), "the web config accepts Prometheus' password")
}

// versionFile is the repository's one version source.
func versionFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../VERSION")
	require.NoError(t, err)
	v := strings.TrimSpace(string(b))
	require.Regexp(t, `^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`, v)
	return v
}

// TestOneVersionSource: make docker tags the image the manifests name, and
// make release names its files, from the VERSION file.
func TestOneVersionSource(t *testing.T) {
	t.Parallel()
	make := lookOrSkip(t, "make")
	v := versionFile(t)
	out := run(t, make, "-C", "..", "-n", "docker")
	assert.Contains(t, out, "-t stoneforge/dispatch_exporter:"+v+" ")
	assert.Contains(t, out, "--build-arg VERSION="+v+" ")
	out = run(t, make, "-C", "..", "-n", "release")
	assert.Contains(t, out, "dist/dispatch_exporter-"+v+".$os-$arch")
	assert.Contains(t, out, "version.Version="+v+" ")
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
	ruleFile, err := os.ReadFile(filepath.Join("..", "alerts", "dispatch.rules.yml"))
	require.NoError(t, err)
	assert.Len(t, pr.Spec.Groups[0].Rules, strings.Count(string(ruleFile), "- alert: ")+strings.Count(string(ruleFile), "- record: "), "every rule of the rule file")
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

// TestKustomizeRendersBothExamples renders the base and the web-config
// overlay with the real kustomize (kubectl's): an overlay inside its own
// base, for one, is refused as a cycle.
func TestKustomizeRendersBothExamples(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH (Debian package kubectl): the layout checks above still run")
	}
	for dir, want := range map[string]string{"kubernetes": "/-/target/healthy", "kubernetes-web-config": "scheme: HTTPS"} {
		out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
		require.NoError(t, err, "kubectl kustomize %s:\n%s", dir, out)
		assert.Contains(t, string(out), want, dir)
	}
}
