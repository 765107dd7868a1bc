package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoedRequest is what a daemon or proxy that echoes the request puts in
// its error page: every header but the ordinary ones, Basic credentials
// decoded, then the form body.
func echoedRequest(r *http.Request) string {
	var parts []string
	for k, vs := range r.Header {
		switch k {
		case "User-Agent", "Accept", "Accept-Encoding", "Content-Length", "Content-Type":
			continue
		}
		parts = append(parts, k+"="+strings.Join(vs, ","))
	}
	slices.Sort(parts)
	if user, password, ok := r.BasicAuth(); ok {
		parts = append(parts, "basic="+user+":"+password)
	}
	body, _ := io.ReadAll(r.Body)
	return "unauthorized: " + strings.Join(parts, " ") + " " + string(body)
}

// echoingServer answers every request with 401 and the request echoed,
// or with answer when it is set; it records what it was sent.
type echoingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newEchoingServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request) bool) *echoingServer {
	t.Helper()
	s := &echoingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo := echoedRequest(r)
		s.mu.Lock()
		s.seen = append(s.seen, echo)
		s.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		http.Error(w, echo, http.StatusUnauthorized)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *echoingServer) sent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seen, "\n")
}

// Targets of every kind of credential a client config sends (basic_auth,
// authorization inline and from a file, bearer_token_file, a secret
// header, OAuth2's client secret and the token it obtains) reach a daemon
// that echoes the request in its 401, and an OAuth2 token endpoint that
// does the same: no secret, in no form the request sent it, shows on
// /-/target/healthy, the landing page, /probe, /metrics or in the log,
// and a credentials file rotated while running is scrubbed as read.
func TestNoCredentialATargetSendsIsShownWhenEchoed(t *testing.T) {
	t.Parallel()
	daemon := newEchoingServer(t, nil)
	tokens := newEchoingServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"acc3ssT0ken","token_type":"Bearer","expires_in":3600}`)
		return true
	})
	badTokens := newEchoingServer(t, nil)

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	write("cred.txt", "f1leT0ken\n")
	write("bearer.txt", "b34rerF1le\n")
	status := daemon.URL + "/api/daemon/status"
	cfg := write("dispatch.yml", `targets:
  - name: basic
    url: `+status+`
    basic_auth: {username: probe, password: b4sicPassw0rd}
  - name: bearer
    url: `+status+`
    authorization: {credentials: b34rerT0ken}
  - name: credfile
    url: `+status+`
    authorization: {type: Token, credentials_file: cred.txt}
  - name: bearerfile
    url: `+status+`
    bearer_token_file: bearer.txt
  - name: header
    url: `+status+`
    http_headers: {X-Api-Key: {secrets: [h34derS3cret]}}
  - name: oauth
    url: `+status+`
    oauth2: {client_id: client, client_secret: 0authS3cret, token_url: `+tokens.URL+`/token}
  - name: oauthfail
    url: `+status+`
    oauth2: {client_id: client, client_secret: 0authF4iled, token_url: `+badTokens.URL+`/token}
`)
	e := startExporter(t, "--config.file="+cfg, "--target.timeout=2s")
	names := []string{"basic", "bearer", "credfile", "bearerfile", "header", "oauth", "oauthfail"}
	outputs := map[string]string{}
	read := func(round string) {
		for _, name := range names {
			for _, path := range []string{"/-/target/healthy?target=" + name, "/probe?target=" + name} {
				_, body := httpGet(t, e.url(path))
				outputs[round+" "+path] = body
			}
		}
		_, outputs[round+" /"] = httpGet(t, e.url("/"))
		_, outputs[round+" /metrics"] = httpGet(t, e.url("/metrics"))
	}
	read("first")
	write("cred.txt", "r0tatedT0ken\n") // read by the client at each request
	read("rotated")
	outputs["log"] = e.logs.String()

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	secrets := []string{"b4sicPassw0rd", b64("probe:b4sicPassw0rd"), "b34rerT0ken", "f1leT0ken", "r0tatedT0ken",
		"b34rerF1le", "h34derS3cret", "acc3ssT0ken", "0authS3cret", b64("client:0authS3cret"), "0authF4iled", b64("client:0authF4iled")}
	sent := daemon.sent() + "\n" + tokens.sent() + "\n" + badTokens.sent()
	for _, s := range secrets {
		require.Contains(t, sent, s, "the request carried %s, so an echo of it would show it", s)
	}
	all := strings.Join(slices.Collect(maps.Values(outputs)), "\n")
	require.Contains(t, all, "HTTP 401 Unauthorized: unauthorized: Authorization=xxxxx basic=xxxxx", "the echo is shown, scrubbed")
	require.Contains(t, all, "X-Api-Key=xxxxx", "the secret header's echo is shown, scrubbed")
	require.Contains(t, all, "oauth2: cannot fetch token: 401 Unauthorized", "the token endpoint's failure is shown")
	require.Contains(t, all, "client_secret=xxxxx", "the token endpoint's echo is shown, scrubbed")
	for what, out := range outputs {
		for _, s := range secrets {
			assert.NotContains(t, out, s, "%s shows a secret: %.400s", what, out)
		}
	}
}
