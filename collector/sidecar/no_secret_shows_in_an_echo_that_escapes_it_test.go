package sidecar

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/config"
)

// TestNoSecretShowsInAnEchoThatEscapesIt: a daemon, a proxy or a framework
// that echoes the request seldom echoes it byte for byte: Express' "Cannot
// GET /path?token=..." repeats the query as sent (percent-encoded), PHP's
// json_encode writes "/" as "\/", Go's encoding/json writes & < > as
// \u0026 \u003c \u003e. The error a failed status request gives shows none
// of the secrets in any of these forms.
func TestNoSecretShowsInAnEchoThatEscapesIt(t *testing.T) {
	t.Parallel()
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		switch r.URL.Path {
		case "/express":
			http.Error(w, "Cannot GET "+r.URL.RequestURI(), http.StatusNotFound)
		case "/php":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"auth":"%s"}`, strings.ReplaceAll(r.Header.Get("Authorization"), "/", `\/`))
		case "/go":
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"user": user, "password": pass})
		case "/lowerhex":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "denied: password=%s", strings.ToLower(url.QueryEscape(pass)))
		case "/raw":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "denied: password=%s", pass)
		}
	}))
	t.Cleanup(daemon.Close)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, yaml string
		forms      []string
	}{
		{"query", "url: " + daemon.URL + "/express?token=t0k%2Fen%2Bx",
			[]string{"t0k%2Fen%2Bx", "t0k/en+x"}},
		{"php", "url: " + daemon.URL + "/php\n    basic_auth: {username: probe, password: 'pa55~~~w0rd?'}",
			[]string{"pa55~~~w0rd?", b64("probe:pa55~~~w0rd?"), strings.ReplaceAll(b64("probe:pa55~~~w0rd?"), "/", `\/`)}},
		{"go", "url: " + daemon.URL + "/go\n    basic_auth: {username: probe, password: 'p&ss<w0rd>'}",
			[]string{"p&ss<w0rd>", `p\u0026ss\u003cw0rd\u003e`}},
		{"lowercase percent-encoding", "url: " + daemon.URL + "/lowerhex\n    basic_auth: {username: probe, password: 'pa/ss+w0rd'}",
			[]string{"pa%2fss%2bw0rd", "pa/ss+w0rd"}},
		// The excerpt collapses whitespace: a secret holding a run of it
		// must be found before.
		{"whitespace run", "url: " + daemon.URL + "/raw\n    basic_auth: {username: probe, password: 'pass   w0rd'}",
			[]string{"pass   w0rd", "pass w0rd"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.ParseConfig([]byte("targets:\n  - name: t\n    " + c.yaml + "\n"))
			require.NoError(t, err)
			tc := cfg.Targets[0]
			client, err := promconfig.NewClientFromConfig(tc.HTTPClientConfig, "t")
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = fetchStatus(ctx, client, tc.URL, config.TargetSecrets(tc), 1<<20)
			require.Error(t, err)
			shown := err.Error()
			require.Contains(t, shown, "target answered HTTP", "the echo is shown")
			for _, s := range c.forms {
				assert.NotContains(t, shown, s, "the error shows a secret: %s", shown)
			}
			client.CloseIdleConnections()
		})
	}
}
