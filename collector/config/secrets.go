package config

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
)

// TargetSecrets lists every secret a target's requests carry, in each form
// a body that echoes the request (a daemon's or a proxy's 401 page, an
// OAuth2 token endpoint's error) could show it: the secrets of its URL and
// proxy URL (URLSecrets); the basic_auth password and the Base64
// "user:password" of its Authorization header; the authorization
// credentials and bearer token; the OAuth2 client secret (sent to the
// token endpoint as Basic auth) and client certificate key; the secrets of
// http_headers and proxy_connect_header. Each *_file is read now, trimmed
// as prometheus/common reads it; a file that cannot be read adds nothing
// (the request fails on it anyway).
func TargetSecrets(tc TargetConfig) []string {
	var s secretList
	s = append(s, URLSecrets(tc.URL)...)
	hc := tc.HTTPClientConfig
	if u := hc.ProxyURL.URL; u != nil {
		s = append(s, URLSecrets(u.String())...)
	}
	for _, vs := range hc.ProxyConnectHeader {
		for _, v := range vs {
			s.headerValue(string(v))
		}
	}
	if b := hc.BasicAuth; b != nil {
		user := firstOf(b.Username, readSecretFile(b.UsernameFile))
		s.basic(user, firstOf(string(b.Password), readSecretFile(b.PasswordFile)))
	}
	if a := hc.Authorization; a != nil {
		s.headerValue(string(a.Credentials))
		s.headerValue(readSecretFile(a.CredentialsFile))
	}
	s.headerValue(string(hc.BearerToken))
	s.headerValue(readSecretFile(hc.BearerTokenFile))
	if o := hc.OAuth2; o != nil {
		s.basic(o.ClientID, firstOf(string(o.ClientSecret), readSecretFile(o.ClientSecretFile)))
		s.add(string(o.ClientCertificateKey), readSecretFile(o.ClientCertificateKeyFile))
	}
	if h := hc.HTTPHeaders; h != nil {
		for _, hd := range h.Headers {
			for _, v := range hd.Secrets {
				s.headerValue(string(v))
			}
			for _, f := range hd.Files {
				s.headerValue(readSecretFile(f))
			}
		}
	}
	return s
}

// HeaderSecrets lists the forms in which a credential header's value (an
// Authorization, a Cookie, a configured secret header, as the client wrote
// it) could be echoed: the whole value; after an auth scheme ("Bearer
// TOKEN", "Basic B64"), the credential alone; for Basic, the decoded
// "user:password" and the password.
func HeaderSecrets(value string) []string {
	var s secretList
	s.headerValue(value)
	return s
}

// secretList collects secrets, in every form worth scrubbing.
type secretList []string

// add appends each non-empty secret and the forms an echo of the request
// may show it in: URL-encoded as a query or form body has it, and as a
// path has it (Express' "Cannot GET /path?token=..."); JSON-escaped as
// Go's encoding/json writes it (& < > as \u0026 \u003c \u003e) and as
// PHP's json_encode does (/ as \/, which a Base64 credential may hold).
// Percent-encoding is added with lowercase hex digits too (%2f), as some
// clients and servers write it.
func (s *secretList) add(secrets ...string) {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		q, p := url.QueryEscape(v), url.PathEscape(v)
		forms := []string{v, q, p, lowerHex(q), lowerHex(p)}
		if j, err := json.Marshal(v); err == nil {
			js := string(j[1 : len(j)-1])
			forms = append(forms, js, strings.ReplaceAll(js, "/", `\/`))
		}
		for i, f := range forms {
			if !slices.Contains(forms[:i], f) {
				*s = append(*s, f)
			}
		}
	}
}

// basic adds a Basic auth credential: the password and the Base64 of
// "user:password" (the user name alone is no secret).
func (s *secretList) basic(user, password string) {
	if password == "" {
		return
	}
	s.add(password, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// headerValue adds a header value and, after an auth scheme, its
// credential (and a Basic credential's decoded forms).
func (s *secretList) headerValue(v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	s.add(v)
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok {
		return
	}
	cred = strings.TrimSpace(cred)
	s.add(cred)
	if strings.EqualFold(scheme, "Basic") {
		if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
			user, password, _ := strings.Cut(string(dec), ":")
			s.add(string(dec))
			s.basic(user, password)
		}
	}
}

// readSecretFile is a secret file's contents as prometheus/common reads
// them (spaces around trimmed); "" when there is no file or it cannot be
// read.
func readSecretFile(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// firstOf is v, else fallback.
func firstOf(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

// lowerHex writes the hex digits of s's percent-escapes in lowercase.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerASCII(b[i+1]), lowerASCII(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}
