package dispatchtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a fake daemon status endpoint whose answer a test sets: a body,
// or a hang (it accepts and never answers). It stops when the test ends.
type Server struct {
	*httptest.Server
	hits atomic.Int64
	stop chan struct{}

	mu   sync.Mutex
	code int // 0: 200
	body string
	hang bool
}

// NewServer starts a Server answering body.
func NewServer(t testing.TB, body string) *Server {
	t.Helper()
	s := &Server{stop: make(chan struct{}), body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
	})
	return s
}

// Answer makes the server answer body from now on, with HTTP 200.
func (s *Server) Answer(body string) { s.set(http.StatusOK, body, false) }

// Reply makes the server answer body with HTTP status code from now on.
func (s *Server) Reply(code int, body string) { s.set(code, body, false) }

// Hang makes the server accept requests and never answer them.
func (s *Server) Hang() { s.set(0, "", true) }

// Hits counts the requests received.
func (s *Server) Hits() int64 { return s.hits.Load() }

func (s *Server) set(code int, body string, hang bool) {
	s.mu.Lock()
	s.code, s.body, s.hang = code, body, hang
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	code, body, hang := s.code, s.body, s.hang
	s.mu.Unlock()
	if hang {
		select {
		case <-s.stop:
		case <-r.Context().Done():
		}
		return
	}
	if code != 0 && code != http.StatusOK {
		w.WriteHeader(code)
	}
	_, _ = io.WriteString(w, body)
}

// DiscardResponse is an http.ResponseWriter that keeps nothing: for
// benchmarks of what a handler does, without the cost of keeping its
// answer.
type DiscardResponse struct{}

// Header is a fresh header each call: nothing set on it is kept.
func (DiscardResponse) Header() http.Header { return http.Header{} }

// Write discards p.
func (DiscardResponse) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader discards the status code.
func (DiscardResponse) WriteHeader(int) {}
