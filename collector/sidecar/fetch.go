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
	"strings"
	"sync/atomic"
	"syscall"

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
// *FetchError naming its reason, with the URL in it redacted (RedactURL):
// these errors reach logs, the landing page and probe bodies.
func fetchStatus(ctx context.Context, client *http.Client, url string, maxBody int64) (*smithy.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{ReasonOther, fmt.Errorf("build request: %w", config.RedactError(err))}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	// Whether a connection was ever made: a timeout without one is an
	// unreachable daemon (packets dropped, a partition), not a hung one.
	var connected atomic.Bool
	// (ConnectDone: the TCP connection, before any TLS handshake, which a
	// blocked daemon never completes; GotConn: a reused one.)
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				connected.Store(true)
			}
		},
		GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				connected.Store(true)
			}
		},
	}))
	resp, err := client.Do(req)
	if err != nil {
		return nil, &FetchError{classify(ctx, err, connected.Load()), config.RedactError(err)}
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, &FetchError{classify(ctx, err, true), fmt.Errorf("read body: %w", config.RedactError(err))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &FetchError{ReasonHTTPStatus, fmt.Errorf("target answered HTTP %s: %s", resp.Status, config.Scrub(excerpt(body), config.URLSecrets(url)))}
	}
	if int64(len(body)) > maxBody {
		return nil, &FetchError{ReasonTooLarge, fmt.Errorf("status body exceeds the %d-byte cap", maxBody)}
	}
	st, err := smithy.Decode(body)
	if err != nil {
		return nil, &FetchError{ReasonDecode, err}
	}
	return st, nil
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

// excerpt is the start of a body for an error message, on one line.
func excerpt(body []byte) string {
	const max = 120
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
