package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLandingPageLinksAnswer: every link and the prefilled probe form of
// the landing page answer 200, in flag mode and with a config file. The
// form is prefilled with the default target in flag mode, and left empty
// with a config file, which has no default.
func TestLandingPageLinksAnswer(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	href := regexp.MustCompile(`href="([^"]+)"`)
	value := regexp.MustCompile(`name="target"[^>]*value="([^"]*)"`)
	for _, c := range []struct {
		args    []string
		prefill string
	}{
		{[]string{"--target.url=http://127.0.0.1:1/status"}, "default"},
		{[]string{"--config.file=" + cfg}, ""},
	} {
		args := c.args
		e := startExporter(t, args...)
		_, landing := httpGet(t, e.url("/"))
		links := href.FindAllStringSubmatch(landing, -1)
		require.NotEmpty(t, links, landing)
		for _, l := range links {
			if strings.HasPrefix(l[1], "http") || strings.Contains(l[1], "debug/pprof") {
				continue // external, or a profile that takes its time
			}
			code, _ := httpGet(t, e.url("/"+strings.TrimPrefix(l[1], "/")))
			assert.Equal(t, 200, code, "%v: link %s", args, l[1])
		}
		prefill := ""
		if m := value.FindStringSubmatch(landing); m != nil {
			prefill = m[1]
		}
		require.Equal(t, c.prefill, prefill, "%v: the form's target", args)
		if prefill != "" {
			code, _ := httpGet(t, e.url("/probe?target="+prefill))
			assert.Equal(t, 200, code, "%v: the prefilled form", args)
		}
	}
}
