package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// StatusPath is where the demo serves its status in smithy's shape.
const StatusPath = "/api/daemon/status"

// Routes registers the demo's endpoints on mux: fault injection under
// /demo/ (POST only) and smithy's status endpoint.
func (d *Daemon) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /demo/wedge", d.handleWedge)
	mux.HandleFunc("POST /demo/unwedge", d.handleUnwedge)
	mux.HandleFunc("POST /demo/workers", d.count("workers", d.SetWorkers))
	mux.HandleFunc("POST /demo/tasks", d.count("tasks", d.AddTasks))
	mux.HandleFunc("POST /demo/stop", d.handleStop)
	mux.HandleFunc("POST /demo/start", d.handleStart)
	mux.HandleFunc("GET "+StatusPath, d.handleStatus)
	mux.HandleFunc("/demo/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "fault injection takes POST", http.StatusMethodNotAllowed)
			return
		}
		http.NotFound(w, r)
	})
}

func (d *Daemon) handleWedge(w http.ResponseWriter, r *http.Request) {
	phase, err := d.Wedge(r.URL.Query().Get("phase"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "the next cycle to reach phase %s blocks there until POST /demo/unwedge\n", phase)
}

func (d *Daemon) handleUnwedge(w http.ResponseWriter, _ *http.Request) {
	if d.Unwedge() {
		fmt.Fprintln(w, "wedge released")
		return
	}
	fmt.Fprintln(w, "no wedge was armed")
}

// count serves an endpoint taking ?n=N.
func (d *Daemon) count(what string, set func(int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err == nil {
			err = set(n)
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("want ?n=N, N >= 0: %v", err), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s: %d\n", what, n)
	}
}

func (d *Daemon) handleStop(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := d.loop.Stop(ctx); err != nil {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "loop stopped, but %v: it stays wedged until POST /demo/unwedge (a real daemon: until restarted)\n", err)
		return
	}
	fmt.Fprintln(w, "loop stopped")
}

func (d *Daemon) handleStart(w http.ResponseWriter, _ *http.Request) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	err := d.loop.Start(ctx)
	switch {
	case errors.Is(err, dispatch.ErrRunning):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		fmt.Fprintln(w, "loop started")
	}
}

// handleStatus serves the loop in smithy's JSON shape, so a sidecar can be
// pointed at the demo exactly as at smithy.
func (d *Daemon) handleStatus(w http.ResponseWriter, _ *http.Request) {
	h := d.loop.Health()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(smithy.FromHealth(h, dispatch.Judge(h)))
}
