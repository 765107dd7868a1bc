package collector

import (
	"errors"
	"net/url"
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

// redactErr hides the URL a *url.Error carries (net/http's client errors
// and url.Parse's embed the whole URL, password and query included), in
// place, keeping the chain for errors.Is and errors.As.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}
	return err
}
