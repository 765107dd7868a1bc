package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/stoneforge/dispatch_exporter/alerts/runbook"
)

// The runbook's Kubernetes commands are run with the real kubectl against a
// fake API server on 127.0.0.1 that serves what `kubectl apply -k
// deploy/kubernetes` would create, plus the pod its Deployment would make:
// a command that names a container, a label, a resource or a field the
// manifests do not have gets the API's 404 or 400, and fails. Deleting is
// sent as a server-side dry run; a port-forward is checked up to the
// request to forward (the fake cannot stream) and its ports against the
// pod's.

// Values put in for the runbook's placeholders, as the alert's labels
// would give them.
const (
	fakeNamespace = "dispatch"
	fakePodName   = "smithy-5d8f7c9b4-x2x9q"
	fakePodIP     = "10.244.1.17"
)

// runbookCommand is one command line of alerts/RUNBOOK.md's blocks tagged
// where it runs ("```sh runbook=kubernetes"); alerts/ checks the format,
// here only the commands are read.
type runbookCommand struct{ section, line string }

// runbookCommands returns each command line of the blocks tagged where,
// with the section it is in.
func runbookCommands(t *testing.T, where string) []runbookCommand {
	t.Helper()
	b, err := os.ReadFile("../alerts/RUNBOOK.md")
	require.NoError(t, err)
	var out []runbookCommand
	for _, s := range runbook.Parse(string(b)) {
		for _, blk := range s.Blocks {
			if blk.Where != where {
				continue
			}
			for _, l := range runbook.Lines(blk.Body) {
				out = append(out, runbookCommand{section: s.Title, line: l})
			}
		}
	}
	require.NotEmpty(t, out, "no runbook=%s command in RUNBOOK.md", where)
	return out
}

// firstCommand is a pipeline's first command without its redirection:
// what runs here is kubectl (or journalctl), not the grep that reads its
// output on a real cluster, nor the file it is saved to.
func firstCommand(line string) string {
	cmd, _, _ := strings.Cut(line, " | ")
	cmd, _, _ = strings.Cut(cmd, " > ")
	return strings.TrimSpace(cmd)
}

// fakeAPI is a read-mostly Kubernetes API server holding fixed objects.
type fakeAPI struct {
	objects []map[string]any // each with apiVersion, kind, metadata

	mu       sync.Mutex
	requests []string // "METHOD path?query"
	// empty are the requests answered with an empty list: a selector the
	// runbook gives that matches nothing the manifests make.
	empty []string
}

// resources maps an API path prefix and resource name to its kind.
var fakeResources = map[string]map[string]string{
	"/api/v1":                        {"pods": "Pod", "events": "Event"},
	"/apis/apps/v1":                  {"deployments": "Deployment"},
	"/apis/monitoring.coreos.com/v1": {"podmonitors": "PodMonitor", "prometheusrules": "PrometheusRule"},
}

func (f *fakeAPI) record(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
}

func (f *fakeAPI) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeAPI) emptyLists() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.empty)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func apiStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
	})
}

func (f *fakeAPI) discovery(w http.ResponseWriter, path string) bool {
	switch path {
	case "/api":
		writeJSON(w, 200, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: "127.0.0.1"}}})
		return true
	case "/apis":
		list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, gv := range []string{"apps/v1", "monitoring.coreos.com/v1"} {
			g, v, _ := strings.Cut(gv, "/")
			ver := metav1.GroupVersionForDiscovery{GroupVersion: gv, Version: v}
			list.Groups = append(list.Groups, metav1.APIGroup{Name: g, Versions: []metav1.GroupVersionForDiscovery{ver}, PreferredVersion: ver})
		}
		writeJSON(w, 200, list)
		return true
	}
	kinds, ok := fakeResources[path]
	if !ok {
		return false
	}
	list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: strings.TrimPrefix(strings.TrimPrefix(path, "/apis/"), "/api/")}
	for res, kind := range kinds {
		list.APIResources = append(list.APIResources, metav1.APIResource{Name: res, Namespaced: true, Kind: kind,
			Verbs: metav1.Verbs{"get", "list", "delete"}})
	}
	if path == "/api/v1" {
		for _, sub := range []string{"pods/log", "pods/portforward", "pods/ephemeralcontainers"} {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: sub, Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "create"}})
		}
	}
	writeJSON(w, 200, list)
	return true
}

// ServeHTTP serves discovery, get, list (label and the field selectors the
// runbook uses), delete as a dry run only, logs of a container the pod has,
// and refuses everything else.
func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	path := r.URL.Path
	if r.Method == http.MethodGet && f.discovery(w, path) {
		return
	}
	var prefix string
	for p := range fakeResources {
		if strings.HasPrefix(path, p+"/") && len(p) > len(prefix) {
			prefix = p
		}
	}
	if prefix == "" {
		apiStatus(w, 404, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	parts := strings.Split(strings.TrimPrefix(path, prefix+"/"), "/")
	ns := ""
	if parts[0] == "namespaces" && len(parts) >= 3 {
		ns, parts = parts[1], parts[2:]
	}
	kind, ok := fakeResources[prefix][parts[0]]
	if !ok {
		apiStatus(w, 404, metav1.StatusReasonNotFound, "no resource "+parts[0])
		return
	}
	if len(parts) == 1 {
		f.list(w, r, prefix, kind, ns)
		return
	}
	obj := f.find(kind, ns, parts[1])
	if obj == nil {
		apiStatus(w, 404, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", parts[0], parts[1]))
		return
	}
	switch sub := strings.Join(parts[2:], "/"); {
	case sub == "" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj)
	case sub == "" && r.Method == http.MethodDelete:
		var opts metav1.DeleteOptions
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &opts) // kubectl sends the options as the body
		if !slices.Contains(r.URL.Query()["dryRun"], "All") && !slices.Contains(opts.DryRun, "All") {
			apiStatus(w, 400, metav1.StatusReasonBadRequest, "this fake API deletes nothing: use --dry-run=server")
			return
		}
		writeJSON(w, 200, obj)
	case sub == "log" && r.Method == http.MethodGet:
		c := r.URL.Query().Get("container")
		if !slices.Contains(containerNames(obj), c) && !(c == "" && r.URL.Query().Get("allContainers") == "true") {
			apiStatus(w, 400, metav1.StatusReasonBadRequest, fmt.Sprintf("container %s is not valid for pod %s", c, parts[1]))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, `ts=2026-11-27T03:00:00Z caller=transitions.go:97 level=error msg="WEDGED: no cycle completed for 1m3s"`)
	case sub == "portforward":
		apiStatus(w, 400, metav1.StatusReasonBadRequest, "this fake API does not stream")
	default:
		apiStatus(w, 405, metav1.StatusReasonMethodNotAllowed, r.Method+" "+sub+" is not served here")
	}
}

func (f *fakeAPI) find(kind, ns, name string) map[string]any {
	for _, o := range f.objects {
		md := o["metadata"].(map[string]any)
		if o["kind"] == kind && md["namespace"] == ns && md["name"] == name {
			return o
		}
	}
	return nil
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request, prefix, kind, ns string) {
	if r.Method != http.MethodGet {
		apiStatus(w, 405, metav1.StatusReasonMethodNotAllowed, r.Method+" on a collection is not served here")
		return
	}
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		apiStatus(w, 400, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	fields := map[string]string{}
	if fs := r.URL.Query().Get("fieldSelector"); fs != "" {
		for _, term := range strings.Split(fs, ",") {
			k, v, ok := strings.Cut(term, "=")
			known := map[string]bool{"status.podIP": kind == "Pod", "involvedObject.name": kind == "Event",
				"involvedObject.namespace": kind == "Event", "involvedObject.uid": kind == "Event", "involvedObject.kind": kind == "Event"}
			if !ok || !known[k] {
				apiStatus(w, 400, metav1.StatusReasonBadRequest, fmt.Sprintf("field label not supported: %s", k))
				return
			}
			fields[k] = v
		}
	}
	items := []map[string]any{}
	for _, o := range f.objects {
		md := o["metadata"].(map[string]any)
		if o["kind"] != kind || (ns != "" && md["namespace"] != ns) {
			continue
		}
		lbls := labels.Set{}
		if l, ok := md["labels"].(map[string]any); ok {
			for k, v := range l {
				lbls[k] = fmt.Sprint(v)
			}
		}
		if !sel.Matches(lbls) {
			continue
		}
		if ip, ok := fields["status.podIP"]; ok && o["status"].(map[string]any)["podIP"] != ip {
			continue
		}
		if name, ok := fields["involvedObject.name"]; ok && o["involvedObject"].(map[string]any)["name"] != name {
			continue
		}
		items = append(items, o)
	}
	if len(items) == 0 {
		f.mu.Lock()
		f.empty = append(f.empty, r.URL.Path+"?"+r.URL.RawQuery)
		f.mu.Unlock()
	}
	apiVersion := strings.TrimPrefix(strings.TrimPrefix(prefix, "/apis/"), "/api/")
	writeJSON(w, 200, map[string]any{"apiVersion": apiVersion, "kind": kind + "List", "metadata": map[string]any{}, "items": items})
}

// containerNames lists a pod object's containers, init containers included.
func containerNames(pod map[string]any) []string {
	var names []string
	spec := pod["spec"].(map[string]any)
	for _, key := range []string{"initContainers", "containers"} {
		cs, _ := spec[key].([]any)
		for _, c := range cs {
			names = append(names, c.(map[string]any)["name"].(string))
		}
	}
	return names
}

// renderedObjects renders deploy/kubernetes with kubectl's kustomize and
// adds the pod its Deployment makes, running, with the example's IP.
func renderedObjects(t *testing.T, kubectl string) []map[string]any {
	t.Helper()
	out, err := exec.Command(kubectl, "kustomize", "kubernetes").Output()
	require.NoError(t, err, "kubectl kustomize kubernetes")
	var objs []map[string]any
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var o map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o == nil {
			continue
		}
		o["metadata"].(map[string]any)["namespace"] = fakeNamespace
		objs = append(objs, o)
		if o["kind"] != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		require.NoError(t, yaml.Unmarshal([]byte(doc), &d))
		pod := corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: fakePodName, Namespace: fakeNamespace, Labels: d.Spec.Template.Labels,
				CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC))},
			Spec: d.Spec.Template.Spec,
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fakePodIP,
				StartTime: &metav1.Time{Time: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}},
		}
		pod.Labels["pod-template-hash"] = "5d8f7c9b4"
		running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *pod.Status.StartTime}}
		for _, c := range pod.Spec.InitContainers {
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true, State: running})
		}
		for _, c := range pod.Spec.Containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true, RestartCount: 2, State: running})
		}
		b, err := json.Marshal(pod)
		require.NoError(t, err)
		var po map[string]any
		require.NoError(t, json.Unmarshal(b, &po))
		objs = append(objs, po)
		ev := corev1.Event{
			TypeMeta:       metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
			ObjectMeta:     metav1.ObjectMeta{Name: fakePodName + ".1", Namespace: fakeNamespace},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: fakeNamespace, Name: fakePodName},
			Reason:         "Unhealthy", Type: corev1.EventTypeWarning, Count: 4,
			Message:       "Liveness probe failed: HTTP probe failed with statuscode: 503",
			LastTimestamp: metav1.NewTime(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)),
		}
		b, err = json.Marshal(ev)
		require.NoError(t, err)
		var eo map[string]any
		require.NoError(t, json.Unmarshal(b, &eo))
		objs = append(objs, eo)
	}
	return objs
}

// podPorts are the container ports of the pod the Deployment makes.
func podPorts(t *testing.T) []int {
	t.Helper()
	var d appsv1.Deployment
	decodeStrict(t, "kubernetes/deployment.yml", &d)
	var ports []int
	for _, c := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
		for _, p := range c.Ports {
			ports = append(ports, int(p.ContainerPort))
		}
	}
	return ports
}

func TestRunbookKubectlCommandsFindTheSidecarPod(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on this machine")
	}
	api := &fakeAPI{objects: renderedObjects(t, kubectl)}
	srv := httptest.NewUnstartedServer(api)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)

	home := t.TempDir()
	kubeconfig := filepath.Join(home, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`, srv.URL), 0o600))

	env := append(os.Environ(), "HOME="+home, "KUBECONFIG="+kubeconfig, "KUBECACHEDIR="+filepath.Join(home, "cache"),
		"NAMESPACE="+fakeNamespace, "POD="+fakePodName, "INSTANCE="+fakePodIP+":9847")
	forwardRE := regexp.MustCompile(`port-forward\s+\S+((?:\s+\d+:\d+)+)`)
	for _, c := range runbookCommands(t, "kubernetes") {
		line := firstCommand(c.line)
		require.True(t, strings.HasPrefix(line, "kubectl "), "%s: %q", c.section, line)
		if strings.Contains(line, " delete ") {
			line += " --dry-run=server"
		}
		before, emptyBefore := len(api.seen()), len(api.emptyLists())
		cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
		cmd.Env, cmd.Dir = env, t.TempDir()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
			t.Errorf("%s: %q still running after 30s", c.section, line)
		}
		reqs := api.seen()[before:]
		var objectReqs []string
		for _, r := range reqs {
			if strings.Contains(r, "/namespaces/") || strings.Contains(r, "labelSelector=") || strings.Contains(r, "fieldSelector=") {
				objectReqs = append(objectReqs, r)
			}
		}
		assert.NotEmpty(t, objectReqs, "%s: %q asked the API for no object; requests: %v", c.section, line, reqs)
		assert.Empty(t, api.emptyLists()[emptyBefore:], "%s: %q selects nothing the manifests make", c.section, line)

		if m := forwardRE.FindStringSubmatch(line); m != nil {
			// The fake cannot stream: the command must get as far as
			// asking to forward, on the pod's own ports.
			assert.True(t, slices.ContainsFunc(reqs, func(r string) bool {
				return strings.HasPrefix(r, "POST /api/v1/namespaces/"+fakeNamespace+"/pods/"+fakePodName+"/portforward")
			}), "%s: %q asks to forward the pod's ports; requests: %v", c.section, line, reqs)
			for _, pair := range strings.Fields(m[1]) {
				_, remote, _ := strings.Cut(pair, ":")
				port, _ := strconv.Atoi(remote)
				assert.Contains(t, podPorts(t), port, "%s: %q forwards a port no container of the pod listens on", c.section, line)
			}
			continue
		}
		assert.NoError(t, err, "%s: %q:\n%s\nrequests: %v", c.section, line, out.String(), reqs)
		t.Logf("%s: %s\n%s", c.section, line, out.String())
		for _, r := range objectReqs {
			assert.NotContains(t, r, "/namespaces/"+fakeNamespace+"/pods/$", "placeholders are filled")
		}
	}
	// The fake must be able to say no: a container the pod does not have.
	bad := exec.Command(kubectl, "-n", fakeNamespace, "logs", fakePodName, "-c", "exporter")
	bad.Env = env
	out, err := bad.CombinedOutput()
	assert.Error(t, err, "a container the pod lacks is refused: %s", out)
}
