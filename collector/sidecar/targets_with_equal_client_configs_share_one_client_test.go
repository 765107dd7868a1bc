package sidecar

import (
	"fmt"
	"testing"

	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/config"
)

// manyTargets is a config of n targets, each with a TLS server name of its
// own, and then one more whose config equals the first's.
func manyTargets(n int) *config.Config {
	cfg := &config.Config{}
	for i := range n {
		c := promconfig.DefaultHTTPClientConfig
		c.TLSConfig.ServerName = fmt.Sprintf("smithy-%05d.internal", i)
		cfg.Targets = append(cfg.Targets, config.TargetConfig{Name: fmt.Sprintf("t%05d", i), URL: "https://127.0.0.1:1/status", HTTPClientConfig: c})
	}
	again := cfg.Targets[0]
	again.Name = "again"
	return &config.Config{Targets: append(cfg.Targets, again)}
}

// TestTargetsWithEqualClientConfigsShareOneClient: equal client configs
// share one client, whatever bucket they fall in; configs that differ,
// in a field the bucket reads or one it does not, never do.
func TestTargetsWithEqualClientConfigsShareOneClient(t *testing.T) {
	t.Parallel()
	cfg := manyTargets(3)
	redirects := cfg.Targets[0]
	redirects.Name, redirects.HTTPClientConfig.FollowRedirects = "no-redirects", false // same bucket, other config
	cfg.Targets = append(cfg.Targets, redirects)
	ts := NewTargets(TargetDefaults{})
	require.NoError(t, ts.Apply(cfg))
	client := func(name string) any {
		tg, ok := ts.Get(name)
		require.True(t, ok, name)
		return tg.opts.Client
	}
	assert.Same(t, client("t00000"), client("again"), "equal configs share a client")
	assert.NotSame(t, client("t00000"), client("t00001"), "another server name, another client")
	assert.NotSame(t, client("t00001"), client("t00002"))
	assert.NotSame(t, client("t00000"), client("no-redirects"), "a field outside the bucket's still tells them apart")

	var cache clientCache
	for _, tc := range manyTargets(5000).Targets {
		_, err := cache.get(tc.HTTPClientConfig, false)
		require.NoError(t, err)
	}
	assert.Len(t, cache, 5000, "one bucket per server name")
	for _, e := range cache {
		assert.Len(t, e, 1, "and one client in each")
	}
}

// BenchmarkApplyDistinctClients: applying 5,000 targets with a client
// config each (a TLS server name of their own).
func BenchmarkApplyDistinctClients(b *testing.B) {
	cfg := manyTargets(5000)
	for b.Loop() {
		require.NoError(b, NewTargets(TargetDefaults{}).Apply(cfg))
	}
}
