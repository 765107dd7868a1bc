package deploy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContainerImage builds the repository's Dockerfile with podman and runs
// the image. There is no Docker engine or registry here, so the builder
// stage's base image (golang:1.26-bookworm) cannot be pulled: the test seeds
// a local stand-in (a static busybox for the shell, Debian's CA bundle) and
// builds with --pull=never, mounting this machine's Go toolchain and module
// cache into the build. The Dockerfile, and so what users get with
// `docker build .`, is the same; only the builder's origin differs.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	podman := lookOrSkip(t, "podman")
	lookOrSkip(t, "runc")
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no static busybox (Debian: busybox-static) to seed the builder image with; make test installs it where it can")
	}
	goroot, modcache := goEnv(t, "GOROOT"), goEnv(t, "GOMODCACHE")
	builder := "localhost/dispatch-exporter-builder:" + goEnv(t, "GOVERSION")
	if exec.Command(podman, "image", "exists", builder).Run() != nil {
		seedBuilder(t, podman, builder)
	}

	image := fmt.Sprintf("localhost/dispatch_exporter:test-%d", os.Getpid())
	version := fmt.Sprintf("0.0.0-test.%d", time.Now().Unix())
	run(t, podman, "build", "--runtime", "runc", "--pull=never", "--layers=false", // leave no build-stage images behind
		"--build-arg", "GO_IMAGE="+builder,
		"--build-arg", "VERSION="+version, "--build-arg", "REVISION=abc1234", "--build-arg", "BRANCH=main",
		"--build-arg", "BUILD_DATE=2026-11-26T00:00:00Z",
		"-v", goroot+":/usr/local/go:ro", "-v", modcache+":/root/go/pkg/mod:ro",
		"-t", image, "..")
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", image).Run() })
	limits := []string{"--runtime", "runc", "--ulimit", "nofile=1024:20000", "--ulimit", "nproc=1000:1000"}

	out := run(t, podman, append(append([]string{"run", "--rm"}, limits...), image, "--version")...)
	assert.Contains(t, out, "dispatch_exporter, version "+version+" (branch: main, revision: abc1234)")
	assert.Contains(t, out, "build date:       2026-11-26T00:00:00Z")

	inspect := run(t, podman, "image", "inspect", image, "--format",
		`{{.Config.User}} {{range $p, $_ := .Config.ExposedPorts}}{{$p}}{{end}} {{index .Config.Labels "org.opencontainers.image.version"}} {{.Config.Entrypoint}}`)
	assert.Equal(t, "65534:65534 9847/tcp "+version+" [/bin/dispatch_exporter]", strings.TrimSpace(inspect))

	// The demo serves /metrics on a published loopback port, as non-root.
	port := freePort(t)
	cid := strings.TrimSpace(run(t, podman, append(append([]string{"run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:9847", port)}, limits...), image, "--demo", "--demo.poll-interval=200ms")...))
	t.Cleanup(func() { _ = exec.Command(podman, "rm", "-f", cid).Run() })
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `dispatch_poll_last_completed_seconds{loop="dispatch"}`)
	}, 30*time.Second, 100*time.Millisecond, "the container's /metrics")
	assert.Contains(t, body, `dispatch_up{loop="dispatch"} 1`)
	assert.Contains(t, body, `version="`+version+`"`)

	pid := strings.TrimSpace(run(t, podman, "inspect", "-f", "{{.State.Pid}}", cid))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^Uid:\s+65534\s+65534\s+65534\s+65534$`, string(status), "runs as nobody")

	// HTTPS targets need CA roots in the image.
	certs := filepath.Join(t.TempDir(), "ca.crt")
	run(t, podman, "cp", cid+":/etc/ssl/certs/ca-certificates.crt", certs)
	b, err := os.ReadFile(certs)
	require.NoError(t, err)
	assert.Greater(t, strings.Count(string(b), "BEGIN CERTIFICATE"), 100)
}

// seedBuilder makes the local stand-in for the builder image: a static
// busybox as /bin/sh, the CA bundle, /tmp, and PATH to the Go toolchain
// the build mounts at /usr/local/go.
func seedBuilder(t *testing.T, podman, tag string) {
	t.Helper()
	ctx := t.TempDir()
	for _, d := range []string{"bin", "etc/ssl/certs", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(ctx, d), 0o755))
	}
	copyFile(t, "/bin/busybox", filepath.Join(ctx, "bin", "busybox"), 0o755)
	for _, tool := range []string{"sh", "ls", "cat", "mkdir", "rm", "cp", "env"} {
		require.NoError(t, os.Symlink("busybox", filepath.Join(ctx, "bin", tool)))
	}
	copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(ctx, "etc/ssl/certs/ca-certificates.crt"), 0o644)
	require.NoError(t, os.WriteFile(filepath.Join(ctx, "tmp", ".keep"), nil, 0o644))
	require.NoError(t, os.Chmod(filepath.Join(ctx, "tmp"), 0o1777))
	require.NoError(t, os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(`FROM scratch
COPY bin /bin
COPY etc /etc
COPY tmp /tmp
ENV PATH=/usr/local/go/bin:/bin HOME=/root GOCACHE=/tmp/gocache GOTOOLCHAIN=local GOFLAGS=-mod=readonly
`), 0o644))
	run(t, podman, "build", "--runtime", "runc", "--pull=never", "-t", tag, ctx)
}

func lookOrSkip(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: make test installs it from Debian's packages where it can", name)
	}
	return p
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, mode))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
