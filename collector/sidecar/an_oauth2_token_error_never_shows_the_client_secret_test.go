package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/config"
)

// TestAnOAuth2TokenErrorNeverShowsTheClientSecret: a status request whose
// OAuth2 token endpoint refuses the client fails with an error that quotes
// the endpoint's answer, and that answer may echo the credentials it was
// sent. The error shows the answer, not the client secret.
func TestAnOAuth2TokenErrorNeverShowsTheClientSecret(t *testing.T) {
	t.Parallel()
	const secret = "cl1ent-s3cret"
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		if pass == "" {
			_ = r.ParseForm()
			pass = r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"unknown secret %s"}`, pass)
	}))
	t.Cleanup(tokens.Close)
	cfg, err := config.ParseConfig([]byte("targets:\n  - name: t\n    url: http://127.0.0.1:1/status\n" +
		"    oauth2: {client_id: probe, client_secret: " + secret + ", token_url: " + tokens.URL + "}\n"))
	require.NoError(t, err)
	tc := cfg.Targets[0]
	client, err := promconfig.NewClientFromConfig(tc.HTTPClientConfig, "t")
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = fetchStatus(ctx, client, tc.URL, config.TargetSecrets(tc), 1<<20)
	require.Error(t, err)
	require.Contains(t, err.Error(), "unknown secret", "the token endpoint's answer is shown")
	assert.NotContains(t, err.Error(), secret)
}
