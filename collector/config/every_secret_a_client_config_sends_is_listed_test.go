package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every secret option of a client config is listed, in the forms a body
// echoing the request shows it, and Scrub hides each of them: file
// contents as read, Basic credentials in Base64 and decoded, a credential
// with and without its scheme.
func TestEverySecretAClientConfigSendsIsListed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{"password": "pa55file\n", "cred": " credF1le \n", "bearer": "b34rerF1le",
		"client-secret": "cl1entF1le", "header": "h34derF1le"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	file := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(file, []byte(`
targets:
  - {name: basic, url: 'http://u:urlPa55@h/s?token=qu3ry', basic_auth: {username: ops, password: pa55inline}}
  - {name: basicfile, url: 'http://h/s', basic_auth: {username: ops, password_file: password}}
  - {name: auth, url: 'http://h/s', authorization: {credentials: cr3dInline}}
  - {name: authfile, url: 'http://h/s', authorization: {type: Token, credentials_file: cred}}
  - {name: bearerfile, url: 'http://h/s', bearer_token_file: bearer}
  - {name: oauth, url: 'http://h/s', oauth2: {client_id: cid, client_secret_file: client-secret, token_url: 'http://h/t'}}
  - {name: headers, url: 'http://h/s', http_headers: {X-Key: {secrets: ['s3cret+/='], files: [header]}}}
  - {name: proxy, url: 'http://h/s', proxy_url: 'http://pu:pr0xyPw@p:3128', proxy_connect_header: {Proxy-Authorization: ['Basic cHU6Y29ubmVjdFB3']}}
`), 0o600))
	cfg, err := LoadConfig(file)
	require.NoError(t, err)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	want := map[string][]string{
		"basic":      {"urlPa55", "qu3ry", "pa55inline", b64("ops:pa55inline")},
		"basicfile":  {"pa55file", b64("ops:pa55file")},
		"auth":       {"cr3dInline"},
		"authfile":   {"credF1le"},
		"bearerfile": {"b34rerF1le"},
		"oauth":      {"cl1entF1le", b64("cid:cl1entF1le")},
		"headers":    {"s3cret+/=", "s3cret%2B%2F%3D", "h34derF1le"},
		"proxy":      {"pr0xyPw", "Basic cHU6Y29ubmVjdFB3", "cHU6Y29ubmVjdFB3", "pu:connectPw", "connectPw"},
	}
	for _, tc := range cfg.Targets {
		secrets := TargetSecrets(tc)
		require.NotEmpty(t, want[tc.Name], tc.Name)
		for _, s := range want[tc.Name] {
			assert.Contains(t, secrets, s, tc.Name)
			assert.Equal(t, "echo: xxxxx.", Scrub("echo: "+s+".", secrets), "%s: %s", tc.Name, s)
		}
	}
}

// A credential header as a request wrote it is listed in every form it
// could be echoed, and Scrub hides the longest first: no Base64 half
// shown after a shorter secret inside it was replaced.
func TestHeaderSecretsScrubWholeCredentials(t *testing.T) {
	t.Parallel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("probe:pa55word"))
	secrets := HeaderSecrets(basic)
	for _, s := range []string{basic, basic[len("Basic "):], "probe:pa55word", "pa55word"} {
		assert.Contains(t, secrets, s)
	}
	assert.Equal(t, "got xxxxx and xxxxx", Scrub("got "+basic+" and probe:pa55word", secrets))
	assert.Subset(t, HeaderSecrets(" Bearer t0ken "), []string{"Bearer t0ken", "t0ken"})
	assert.Empty(t, HeaderSecrets(""))
}
