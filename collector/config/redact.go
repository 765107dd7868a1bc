package config

import (
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redacted replaces a secret in a URL shown to people.
const redacted = "xxxxx"

// RedactURL is raw for logs, pages and errors: the user info (user name
// and password) and every query value are replaced by "xxxxx", since
// either may carry a credential (http://user:pass@host, ?token=...). Query
// keys, scheme, host and path stay, so the target remains recognisable.
// An unparsable URL is not shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return redactURL(u).String()
}

func redactURL(u *url.URL) *url.URL {
	r := *u
	if r.User != nil {
		r.User = url.User(redacted)
	}
	if r.RawQuery != "" {
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			r.RawQuery = redacted
		} else {
			for k, vs := range q {
				for i := range vs {
					vs[i] = redacted
				}
				q[k] = vs
			}
			r.RawQuery = q.Encode()
		}
	}
	r.Fragment, r.RawFragment = "", ""
	return &r
}

// RedactError hides the URL a *url.Error carries (net/http's client errors
// and url.Parse's embed the whole URL, password and query included), in
// place, keeping the chain for errors.Is and errors.As.
func RedactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}
	return err
}

// urlInText finds what looks like a URL in free text.
var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// userInfoInText and queryInText are the secrets of a URL that does not
// parse (an invalid port, say), found by shape.
var (
	userInfoInText = regexp.MustCompile(`://[^/@\s]*@`)
	queryInText    = regexp.MustCompile(`\?[^\s"'<>]*`)
)

// RedactText redacts every URL in free text (an error message, a decoder's
// complaint) as RedactURL does; a URL that does not parse loses its user
// info and query by shape.
func RedactText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(raw string) string {
		if u, err := url.Parse(raw); err == nil {
			return redactURL(u).String()
		}
		raw = userInfoInText.ReplaceAllString(raw, "://"+redacted+"@")
		return queryInText.ReplaceAllString(raw, "?"+redacted)
	})
}

// redactedError shows its error's text with every URL in it redacted.
type redactedError struct{ err error }

func (e redactedError) Error() string { return RedactText(e.err.Error()) }

func (e redactedError) Unwrap() error { return e.err }

// RedactErrorText wraps err so that its text never shows a URL's secrets.
func RedactErrorText(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err}
}

// URLSecrets lists the secrets of a target URL as they could come back in
// a body that echoes the request: the password, the user info in Basic
// auth form, and every query value, each decoded, as the URL spells it
// (percent-encoded: an echoed request line shows it so) and in the forms
// an echo may escape it to (secretList.add).
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out secretList
	if u.User != nil {
		out.add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			out.add(p, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+p)))
		}
		if _, p, ok := strings.Cut(u.User.String(), ":"); ok {
			out.add(p)
		}
	}
	for _, vs := range u.Query() {
		out.add(vs...)
	}
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		if _, v, ok := strings.Cut(pair, "="); ok {
			out.add(v)
		}
	}
	return out
}

// Scrub replaces every secret in text (URLSecrets, TargetSecrets,
// HeaderSecrets), longest first so that none is left half shown inside
// another, and redacts the URLs in it.
func Scrub(text string, secrets []string) string {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) >= 3 { // shorter would blank out ordinary words
			text = strings.ReplaceAll(text, s, redacted)
		}
	}
	return RedactText(text)
}

// scrubbedError shows its error's text scrubbed of secrets (Scrub), done
// once when it is made: the text is read on every log line, landing page
// and probe that shows the failure, and the error never changes.
type scrubbedError struct {
	err  error
	text string
}

func (e scrubbedError) Error() string { return e.text }

func (e scrubbedError) Unwrap() error { return e.err }

// ScrubError wraps err so that its text never shows one of secrets nor a
// URL's, keeping the chain for errors.Is and errors.As: an HTTP client's
// error may quote what the request sent (an OAuth2 token endpoint's
// answer, a proxy's).
func ScrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	return scrubbedError{err, Scrub(err.Error(), secrets)}
}
