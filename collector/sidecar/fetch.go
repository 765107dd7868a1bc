package sidecar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"

	"github.com/prometheus/common/version"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// The reasons a status request fails, as dispatch_status_request_failures_total
// counts them (family.Reasons).
const (
	ReasonTimeout    = family.ReasonTimeout
	ReasonConnect    = family.ReasonConnect
	ReasonTLS        = family.ReasonTLS
	ReasonHTTPStatus = family.ReasonHTTPStatus
	ReasonDecode     = family.ReasonDecode
	ReasonTooLarge   = family.ReasonTooLarge
	ReasonOther      = family.ReasonOther
)

// failureCounts counts failed status requests by reason, in the order of
// family.Reasons: a value, copied into each probe's snapshot without
// allocating.
type failureCounts [family.NumReasons]uint64

// add counts one failure of reason (unknown reasons count as other).
func (c *failureCounts) add(reason string) {
	for i, r := range family.Reasons() {
		if r == reason {
			c[i]++
			return
		}
	}
	c[family.NumReasons-1]++
}

// DefaultMaxBodyBytes caps a status body: smithy's are under 1 KiB.
const DefaultMaxBodyBytes = 1 << 20

// FetchError is a failed status request and the reason it is counted under.
type FetchError struct {
	Reason string
	Err    error
}

func (e *FetchError) Error() string { return e.Err.Error() }

func (e *FetchError) Unwrap() error { return e.Err }

// Evidence classifies the failure for the evidence model: no answer on an
// accepted connection within the timeout is a hang; a refused connection or
// a name that does not exist means nothing listens there; anything else (an
// answer that is not a usable status, or no connection at all: unreachable,
// a dial timeout, a DNS failure) says nothing about the daemon's process.
func (e *FetchError) Evidence() dispatch.Evidence {
	var dnsErr *net.DNSError
	switch {
	case e.Reason == ReasonTimeout:
		return dispatch.EvidenceHung
	case e.Reason == ReasonConnect && errors.Is(e.Err, syscall.ECONNREFUSED),
		e.Reason == ReasonConnect && errors.As(e.Err, &dnsErr) && dnsErr.IsNotFound:
		return dispatch.EvidenceRefused
	}
	return dispatch.EvidenceUnusable
}

// connectionLost reports a connection the daemon had accepted that was
// reset or closed before an answer came: the process holding it may have
// died.
func (e *FetchError) connectionLost() bool {
	return e.Reason == ReasonOther && (errors.Is(e.Err, syscall.ECONNRESET) || errors.Is(e.Err, io.EOF) ||
		errors.Is(e.Err, io.ErrUnexpectedEOF) || errors.Is(e.Err, syscall.EPIPE))
}

// fetchStatus GETs a status document and decodes it. Every failure is a
// *FetchError naming its reason, scrubbed of the URL's secrets (RedactURL),
// of secrets (the target config's and its URL's, TargetSecrets) and of
// every credential header the request sent (HeaderSecrets): these errors, and the excerpt
// of a body that may echo the request, reach logs, the landing page and
// probe bodies.
//
// The request, its dial included, ends by ctx's deadline (withRequestDeadline).
func fetchStatus(ctx context.Context, client *http.Client, url string, secrets []string, maxBody int64) (*smithy.Status, error) {
	trace := &requestTrace{secrets: secrets}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(withRequestDeadline(ctx), trace.clientTrace()), http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{ReasonOther, fmt.Errorf("build request: %w", config.RedactError(err))}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, &FetchError{classify(ctx, err, trace.connected.Load()), trace.scrub(config.RedactError(err))}
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, &FetchError{classify(ctx, err, true), fmt.Errorf("read body: %w", trace.scrub(config.RedactError(err)))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &FetchError{ReasonHTTPStatus, fmt.Errorf("target answered HTTP %s: %s", resp.Status,
			excerpt(body, trace.allSecrets()))}
	}
	if int64(len(body)) > maxBody {
		return nil, &FetchError{ReasonTooLarge, fmt.Errorf("status body exceeds the %d-byte cap", maxBody)}
	}
	st, err := smithy.Decode(body)
	if err != nil {
		return nil, &FetchError{ReasonDecode, trace.scrub(err)}
	}
	return st, nil
}

// requestTrace follows one status request through net/http.
type requestTrace struct {
	// connected: whether a connection was ever made. A timeout without
	// one is an unreachable daemon (packets dropped, a partition), not a
	// hung one.
	connected atomic.Bool
	// secrets are the target config's and its URL's (TargetSecrets).
	secrets []string

	mu   sync.Mutex
	sent []string // credential header values the request wrote
}

func (tr *requestTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		// ConnectDone: the TCP connection, before any TLS handshake,
		// which a blocked daemon never completes.
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				tr.connected.Store(true)
			}
		},
		// GotConn: the request has its connection (a reused one too), so
		// its own context bounds it from now on.
		GotConn: func(info httptrace.GotConnInfo) {
			releaseRequestDeadline(info.Conn)
			if info.Reused {
				tr.connected.Store(true)
			}
		},
		// WroteHeaderField: the headers as sent, after every round
		// tripper of the client config added its own (basic_auth,
		// authorization, oauth2's token, http_headers): the credentials
		// as they were read for this request.
		WroteHeaderField: func(key string, value []string) {
			if !credentialHeader(key) {
				return
			}
			tr.mu.Lock()
			tr.sent = append(tr.sent, value...)
			tr.mu.Unlock()
		},
	}
}

// allSecrets is every secret the request carried: the config's and its
// URL's, and the credential headers it wrote.
func (tr *requestTrace) allSecrets() []string {
	out := slices.Clone(tr.secrets)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, v := range tr.sent {
		out = append(out, config.HeaderSecrets(v)...)
	}
	return out
}

// scrub hides the request's secrets in err's text (config.ScrubError).
func (tr *requestTrace) scrub(err error) error {
	tr.mu.Lock()
	sent := len(tr.sent)
	tr.mu.Unlock()
	if len(tr.secrets) == 0 && sent == 0 {
		return err
	}
	return config.ScrubError(err, tr.allSecrets())
}

// credentialHeader reports whether a header the request wrote may carry a
// credential: any but HTTP/2's pseudo-headers and those net/http and
// fetchStatus set themselves.
func credentialHeader(key string) bool {
	if strings.HasPrefix(key, ":") {
		return false
	}
	switch http.CanonicalHeaderKey(key) {
	case "Host", "User-Agent", "Accept", "Accept-Encoding", "Connection", "Content-Length", "Content-Type", "Transfer-Encoding":
		return false
	}
	return true
}

// userAgent is what status requests say they come from.
var userAgent = version.ComponentUserAgent("dispatch_exporter")

// classify names the reason a request failed; connected says whether a
// connection to the daemon was ever made.
func classify(ctx context.Context, err error, connected bool) string {
	var (
		netErr  net.Error
		opErr   *net.OpError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr) && opErr.Op == "dial":
		return ReasonConnect
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil,
		errors.As(err, &netErr) && netErr.Timeout():
		if !connected {
			// A connection that was never made (a dial timeout, packets
			// dropped: net/http may report it as the request's deadline)
			// is not a daemon that hangs.
			return ReasonConnect
		}
		return ReasonTimeout
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &recErr):
		return ReasonTLS
	}
	return ReasonOther
}

// excerptWindow is how much of a body an excerpt is taken from.
const excerptWindow = 8 << 10

// excerpt is the start of a body for an error message, on one line,
// scrubbed of secrets (config.Scrub) before it is cut short, so that no
// secret shows cut in half; a word cut at the end of the window is dropped
// for the same reason.
func excerpt(body []byte, secrets []string) string {
	const max = 120
	window := len(body) > excerptWindow
	if window {
		body = body[:excerptWindow]
	}
	// Scrubbed before its whitespace is collapsed: a secret holding a run
	// of spaces or a newline would not be found after.
	fields := strings.Fields(config.Scrub(string(body), secrets))
	if window && len(fields) > 0 {
		fields = fields[:len(fields)-1]
	}
	s := strings.Join(fields, " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) { // never half a character
			cut--
		}
		s = s[:cut] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
