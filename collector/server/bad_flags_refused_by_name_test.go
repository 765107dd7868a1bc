package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadInputExitsClearly: every bad flag, combination or file ends run
// before it serves, with a non-zero code and one line that names the flag
// or file (and, in a config file, line, target and field): never a panic,
// never a start that then fails every scrape.
func TestBadInputExitsClearly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	bad := write("bad.yml", "targets:\n  - name: a\n    url: http://x\n    tiemout: 1s\n")
	negative := write("negative.yml", "targets:\n  - name: eu\n    url: http://x\n    timeout: -5s\n")
	good := write("good.yml", "targets: [{name: a, url: 'http://localhost:3457/api/daemon/status'}]")
	missing := filepath.Join(dir, "missing.yml")
	huge := write("huge.yml", "targets: [{name: a, url: 'http://localhost:3457/api/daemon/status'}]\n"+strings.Repeat("#", config.MaxFileBytes))

	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--bogus"}, 2, "dispatch_exporter: unknown long flag '--bogus'; try --help"},
		{[]string{"--demo.poll-interval=soon"}, 2, `time: invalid duration "soon"`},
		{[]string{"--log.level=loud"}, 2, "--log.level=loud: must be one of debug, info, warn, error"},
		{[]string{"--demo", "--demo.poll-interval=0s"}, 2, "--demo.poll-interval=0s: must be positive"},

		{[]string{"--web.telemetry-path=metrics"}, 2, `--web.telemetry-path=metrics: must start with "/"`},
		{[]string{"--web.telemetry-path=/"}, 2, `--web.telemetry-path=/: must not be "/"`},
		{[]string{"--web.telemetry-path=/probe"}, 2, "--web.telemetry-path=/probe: collides with the /probe endpoint"},
		{[]string{"--web.telemetry-path=/-/healthy"}, 2, "--web.telemetry-path=/-/healthy: collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/ready"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/reload"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/target/healthy"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/debug/pprof/heap"}, 2, "collides with the endpoints under /debug/pprof/"},
		{[]string{"--demo", "--web.telemetry-path=/demo/wedge"}, 2, "collides with the endpoints under /demo/"},
		{[]string{"--web.telemetry-path=/metrics {x}"}, 2, "--web.telemetry-path=/metrics {x}: use letters, digits"},
		{[]string{"--web.telemetry-path=/a/../metrics"}, 2, "must be a clean path"},

		{[]string{"--target.url=not-a-url"}, 2, `--target.url=not-a-url: want http:// or https:// and a host`},
		{[]string{"--target.url=ftp://x/status"}, 2, `--target.url=ftp://x/status: want http:// or https://`},
		{[]string{"--target.url=http:///status"}, 2, "want http:// or https:// and a host"},
		{[]string{"--target.url=http://[::1/status"}, 2, "--target.url=(unparsable URL): not a URL"},
		{[]string{"--poll.stale-threshold=-5s"}, 2, "--poll.stale-threshold=-5s: must not be negative"},
		{[]string{"--target.timeout=0s"}, 2, "--target.timeout=0s: must be positive"},
		{[]string{"--target.timeout=-1s"}, 2, "--target.timeout=-1s: must be positive"},
		{[]string{"--target.max-body-bytes=0"}, 2, "--target.max-body-bytes=0: must be a positive size"},
		{[]string{"--target.timeout-offset=-1s"}, 2, "--target.timeout-offset=-1s: must not be negative"},
		{[]string{"--liveness.timeout=0s"}, 2, "--liveness.timeout=0s: must be positive"},
		{[]string{"--liveness.failure-threshold=0"}, 2, "--liveness.failure-threshold=0: must be from 1 to 100"},
		{[]string{"--target.timeout=61s"}, 2, "--target.timeout=1m1s: must be positive and at most 1m0s, within the server's 2m0s write timeout"},
		{[]string{"--liveness.timeout=2m"}, 2, "--liveness.timeout=2m0s: must be positive and at most 1m0s"},
		{[]string{"--web.max-connections=0"}, 2, "--web.max-connections=0: must be positive"},
		{[]string{"--web.idle-timeout=0s"}, 2, "--web.idle-timeout=0s: must be positive"},

		{[]string{"--target.url=http://x/status", "--config.file=" + good}, 2, "--target.url=http://x/status: conflicts with --config.file"},
		{[]string{"--demo", "--config.file=" + good}, 2, "--config.file=" + good + ": conflicts with --demo"},
		{[]string{"--demo", "--target.url=http://x/status"}, 2, "--target.url=http://x/status: conflicts with --demo"},

		{[]string{"--config.file=" + bad}, 1, `msg="cannot load --config.file" file=` + bad + ` err="config ` + bad + `: line 4: target a: unknown field tiemout"`},
		{[]string{"--config.file=" + missing}, 1, `msg="cannot load --config.file" file=` + missing + ` err="read config: open ` + missing + `: no such file or directory"`},
		{[]string{"--web.config.file=" + missing}, 1, `msg="bad --web.config.file" file=` + missing + ` err="open ` + missing + `: no such file or directory"`},
		{[]string{"--config.check", "--config.file=" + bad}, 1, `config is invalid" file=` + bad + ` err="config ` + bad + `: line 4: target a: unknown field tiemout"`},
		{[]string{"--config.check", "--config.file=" + negative}, 1, `line 4: target eu: timeout: \"-5s\" is not a duration`},
		{[]string{"--config.check", "--config.file=" + missing}, 1, "no such file or directory"},
		{[]string{"--config.check"}, 2, "--config.check needs --config.file"},
		{[]string{"--config.check", "--config.file=" + huge}, 1, `config is invalid" file=` + huge + ` err="config ` + huge + `: 4194373 bytes: over the 4 MiB limit of a config file"`},
		{[]string{"--config.file=" + huge}, 1, "over the 4 MiB limit of a config file"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var out dispatchtest.Logs
			code := Run(context.Background(), append(c.args, "--web.listen-address=127.0.0.1:0"), &out, &out)
			assert.Equal(t, c.code, code, out.String())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			assert.Contains(t, last, c.out, "the last line says why")
			assert.NotContains(t, out.String(), "Listening on", "nothing was served")
			assert.NotContains(t, out.String(), "goroutine ", "no panic")
			assert.NotContains(t, out.String(), "previous config", "at start-up there is none")
			assert.NotContains(t, out.String(), "collector.", "no Go type names")
			for _, l := range lines[:len(lines)-1] {
				assert.Contains(t, l, "starting dispatch_exporter", "one line of error, after the start line at most")
			}
		})
	}

	var out dispatchtest.Logs
	assert.Equal(t, 0, Run(context.Background(), []string{"--config.check", "--config.file=" + good}, &out, &out))
	assert.Equal(t, good+": config OK, 1 target(s)\n", out.String())
}

// Bad values that used to start (or fail after "starting"), or end with a
// line that did not name the flag.
func TestMoreBadFlagsAreRefusedByName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string // the flag the one line should name
	}{
		{[]string{"--target.url=http://127.0.0.1:99999/status"}, "--target.url"},               // starts; every scrape: invalid port
		{[]string{"--web.listen-address=bogus"}, "--web.listen-address"},                       // "server failed" after the start lines
		{[]string{"--liveness.mode=foo"}, "--liveness.mode"},                                   // kingpin's enum text, no flag
		{[]string{"--target.max-body-bytes=-1"}, "--target.max-body-bytes"},                    // "units: unknown unit  in -1"
		{[]string{"--web.telemetry-path=/metrics/"}, "--web.telemetry-path"},                   // serves metrics on /metrics/<anything>
		{[]string{"--demo", "--watchdog.stack-dump-dir=/proc/x"}, "--watchdog.stack-dump-dir"}, // fails only at the first WEDGED
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			code := Run(ctx, append([]string{"--web.listen-address=127.0.0.1:0"}, c.args...), &out, &out)
			assert.NotEqual(t, 0, code, "started and ran: %s", out.String())
			assert.Contains(t, out.String(), c.want, "the line names the flag")
			assert.NotContains(t, out.String(), "Listening on")
		})
	}
}
