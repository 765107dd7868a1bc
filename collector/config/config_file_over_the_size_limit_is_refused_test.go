package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fiveThousandTargets is a config of 5,000 targets, each with everything
// a real one may carry: TLS client certificates, basic auth, timeouts.
func fiveThousandTargets() string {
	var b strings.Builder
	b.WriteString("targets:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, `  - name: smithy-%05[1]d.eu-west-1
    url: https://smithy-%05[1]d.eu-west-1.dispatch.internal.example.com:3457/api/daemon/status
    timeout: 3s
    stale_threshold: 2m
    tls_config:
      ca_file: /etc/dispatch_exporter/tls/ca.pem
      cert_file: /etc/dispatch_exporter/tls/client.pem
      key_file: /etc/dispatch_exporter/tls/client-key.pem
      server_name: smithy-%05[1]d.eu-west-1.dispatch.internal.example.com
    basic_auth:
      username: dispatch-exporter
      password_file: /etc/dispatch_exporter/secrets/smithy-%05[1]d.password
`, i)
	}
	return b.String()
}

// TestConfigFileOverTheSizeLimitIsRefused: 5,000 fully configured targets
// fit well within MaxFileBytes and load; a file one byte over it is refused
// with an error that says so and how large the file is, and so is an
// endless stream (no size to stat), read no further than the limit.
func TestConfigFileOverTheSizeLimitIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fits := filepath.Join(dir, "fits.yml")
	five := fiveThousandTargets()
	require.Less(t, len(five), MaxFileBytes*3/4, "5,000 targets leave room under the limit")
	require.NoError(t, os.WriteFile(fits, []byte(five), 0o600))
	cfg, err := LoadConfig(fits)
	require.NoError(t, err)
	assert.Len(t, cfg.Targets, 5000)

	over := filepath.Join(dir, "over.yml")
	padding := MaxFileBytes + 1 - len(goodConfig)
	require.NoError(t, os.WriteFile(over, []byte(goodConfig+strings.Repeat("#", padding)), 0o600))
	_, err = LoadConfig(over)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrTooLarge), "%v", err)
	assert.Equal(t, fmt.Sprintf("config %s: %d bytes: over the 4 MiB limit of a config file", over, MaxFileBytes+1), err.Error())

	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err = LoadConfig("/dev/zero")
		assert.True(t, errors.Is(err, ErrTooLarge), "a stream is cut at the limit: %v", err)
	}
}

// TestTargetTimeoutOverTheServersBoundIsRefused: a target timeout longer
// than MaxTargetTimeout could outlast the server's write timeout.
func TestTargetTimeoutOverTheServersBoundIsRefused(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig([]byte("targets:\n  - name: a\n    url: http://x:1/\n    timeout: 61s\n"))
	assert.EqualError(t, err, "line 4: target a: timeout: must be from 0 (--target.timeout) to 1m0s")
	_, err = ParseConfig([]byte("targets:\n  - name: a\n    url: http://x:1/\n    timeout: 1m\n"))
	assert.NoError(t, err)
}
