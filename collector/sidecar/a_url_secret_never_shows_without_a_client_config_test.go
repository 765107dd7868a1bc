package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestAURLSecretNeverShowsWithoutAClientConfig: a target built with a URL
// alone (a library's NewTarget, no config.TargetSecrets) keeps its URL's
// password and query values out of what an echoing error page shows.
func TestAURLSecretNeverShowsWithoutAClientConfig(t *testing.T) {
	t.Parallel()
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "denied %s for password %s", r.URL.RequestURI(), pass)
	}))
	t.Cleanup(daemon.Close)
	url := strings.Replace(daemon.URL, "http://", "http://probe:pa55w0rd@", 1) + "/status?token=t0k3n"
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, url, &logs)
	st := tgt.Probe(context.Background()).State()
	require.Contains(t, st.Error, "target answered HTTP 401", "the echo is shown")
	for _, s := range []string{"pa55w0rd", "t0k3n"} {
		assert.NotContains(t, st.Error, s)
		assert.NotContains(t, logs.String(), s)
	}
}
