package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPprofCanBeTurnedOff: /debug/pprof/ is served and linked by default
// (as node_exporter does); --no-web.enable-pprof serves and links neither.
func TestPprofCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag string
		code int
	}{{"--web.enable-pprof", 200}, {"--no-web.enable-pprof", 404}} {
		e := startExporter(t, "--target.url=http://127.0.0.1:1/status", c.flag)
		code, _ := httpGet(t, e.url("/debug/pprof/"))
		assert.Equal(t, c.code, code, c.flag)
		code, _ = httpGet(t, e.url("/debug/pprof/heap"))
		assert.Equal(t, c.code, code, c.flag)
		_, landing := httpGet(t, e.url("/"))
		assert.Equal(t, c.code == 200, strings.Contains(landing, "debug/pprof/heap"), "%s: the landing page links only what is served", c.flag)
		assert.Contains(t, landing, "/metrics", "the page itself is served")
	}
}
