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

// Answer makes the server answer body from now on.
func (s *Server) Answer(body string) { s.set(body, false) }

// Hang makes the server accept requests and never answer them.
func (s *Server) Hang() { s.set("", true) }

// Hits counts the requests received.
func (s *Server) Hits() int64 { return s.hits.Load() }

func (s *Server) set(body string, hang bool) {
	s.mu.Lock()
	s.body, s.hang = body, hang
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, hang := s.body, s.hang
	s.mu.Unlock()
	if hang {
		select {
		case <-s.stop:
		case <-r.Context().Done():
		}
		return
	}
	_, _ = io.WriteString(w, body)
}
