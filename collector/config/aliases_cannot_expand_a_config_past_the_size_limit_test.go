package config

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aliasedConfig is a config of a few KiB whose targets each repeat, by a
// YAML alias, one anchored http_headers block of headers entries.
func aliasedConfig(targets, headers int) []byte {
	var b strings.Builder
	b.WriteString("targets:\n  - name: t\n    url: 'http://127.0.0.1:1/s'\n    http_headers: &h\n")
	for i := range headers {
		fmt.Fprintf(&b, "      X-H%d: {values: [v%d]}\n", i, i)
	}
	for i := range targets {
		fmt.Fprintf(&b, "  - {name: t%d, url: 'http://127.0.0.1:1/s', http_headers: *h}\n", i)
	}
	return []byte(b.String())
}

// TestAliasesCannotExpandAConfigPastTheSizeLimit: the size limit bounds
// what a config costs only if a file cannot make itself larger once
// read. YAML aliases repeat a node wherever they stand: a file of 110 KiB
// (one block of 1,000 headers, 1,000 targets naming it) decodes to a
// million headers. Such a file is refused, cheaply, with an error that
// says why.
func TestAliasesCannotExpandAConfigPastTheSizeLimit(t *testing.T) {
	doc := aliasedConfig(1000, 1000)
	require.Less(t, len(doc), 128<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParseConfig(doc)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(100*len(doc)), "bytes allocated parsing a %d-byte file", len(doc))
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "alias")
	}
	// A file that uses an anchor as configs do (shared settings) is fine.
	cfg, err := ParseConfig(aliasedConfig(20, 3))
	require.NoError(t, err)
	assert.Len(t, cfg.Targets, 21)
}
