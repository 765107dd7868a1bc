package handler

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// Reload serves POST /-/reload: re-read the config file. Another method
// gets 405; a bad file gets 500 with the reason, and the old config stays;
// without a config file (the target came from flags) it is 400: there is
// nothing to reload.
func Reload(reload func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the config", http.StatusMethodNotAllowed)
			return
		}
		err := reload()
		if errors.Is(err, sidecar.ErrNoConfigFile) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "config reloaded")
	})
}

// Text serves a fixed 200 text: /-/healthy and /-/ready, which say the
// exporter itself is up. A daemon's health is /-/target/healthy.
func Text(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, body)
	})
}
