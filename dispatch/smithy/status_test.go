package smithy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// samples are real responses captured from a smithy server
// (shared/smithy/samples, copied into testdata so a clone is self-contained).
func samples(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/samples/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

func TestDecodeEverySample(t *testing.T) {
	t.Parallel()
	for name, body := range samples(t) {
		st, err := Decode(body)
		require.NoError(t, err, name)
		if name == "nogit.json" {
			assert.False(t, *st.Available)
			assert.Equal(t, "DispatchDaemon not available (no git repository)", st.Reason)
			assert.Nil(t, st.Health)
			continue
		}
		assert.Equal(t, 5*time.Second, st.Interval(), name)
		require.NotNil(t, st.Health, name)
		assert.NotNil(t, st.Health.ComputedAt, name)
	}
}

func TestDecodeWedgedSample(t *testing.T) {
	t.Parallel()
	st, err := Decode(samples(t)["wedged.json"])
	require.NoError(t, err)
	assert.True(t, *st.IsRunning)
	assert.Equal(t, 2, *st.Health.ReadyUnassignedTasks)
	assert.Equal(t, 0, *st.Health.AvailableWorkers)
	assert.True(t, *st.Health.PollStale)
	assert.Equal(t, time.Date(2026, 11, 26, 21, 0, 59, 259e6, time.UTC), st.Health.LastPollStartedAt.Time())
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ body, err string }{
		"not JSON":             {`<html>502 Bad Gateway</html>`, "invalid character '<'"},
		"truncated":            {`{"isRunning": true, "avail`, "unexpected end of JSON input"},
		"null":                 {`null`, "body is null"},
		"array":                {`[]`, "cannot unmarshal array"},
		"empty":                {``, "unexpected end of JSON input"},
		"trailing data":        {`{"isRunning":true,"available":true} {}`, "invalid character '{' after top-level value"},
		"string count":         {`{"isRunning":true,"available":true,"health":{"readyUnassignedTasks":"3"}}`, "readyUnassignedTasks of type int"},
		"fractional count":     {`{"isRunning":true,"available":true,"health":{"availableWorkers":1.5}}`, "availableWorkers of type int"},
		"negative count":       {`{"isRunning":true,"available":true,"health":{"availableWorkers":-1}}`, "must not be negative"},
		"string bool":          {`{"isRunning":"yes","available":true}`, "isRunning of type bool"},
		"missing isRunning":    {`{"available":true}`, "missing required field isRunning"},
		"missing available":    {`{"isRunning":true}`, "missing required field available"},
		"unparsable timestamp": {`{"isRunning":true,"available":true,"health":{"computedAt":"yesterday"}}`, `timestamp "yesterday" is not ISO-8601`},
		"numeric timestamp":    {`{"isRunning":true,"available":true,"health":{"lastPollStartedAt":1764190755}}`, "must be an ISO-8601 string"},
		"zero interval":        {`{"isRunning":true,"available":true,"config":{"pollIntervalMs":0}}`, "pollIntervalMs must be positive"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(c.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "decode status: ")
			assert.Contains(t, err.Error(), c.err)
		})
	}
}

func TestDecodeToleratesMissingOptionalAndUnknownFields(t *testing.T) {
	t.Parallel()
	st, err := Decode([]byte(`{"isRunning":true,"available":true,"newField":{"x":1},"health":{"computedAt":"2026-11-26T21:00:00Z"}}`))
	require.NoError(t, err)
	assert.Zero(t, st.Interval())
	assert.Nil(t, st.Health.LastPollStartedAt)
	assert.Nil(t, st.Health.ReadyUnassignedTasks)
}

func TestFromHealthRoundTrips(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 21, 0, 0, 123456789, time.UTC)
	h := dispatch.Health{
		Now: now, LastStarted: now.Add(-2 * time.Second), LastCompleted: now.Add(-time.Second),
		Running: true, Interval: 5 * time.Second, Observed: true, QueueKnown: true, ReadyUnassignedTasks: 2,
	}
	body, err := json.Marshal(FromHealth(h, dispatch.Judge(h)))
	require.NoError(t, err)
	assert.Contains(t, string(body), `"computedAt":"2026-11-26T21:00:00.123Z"`, "toISOString's shape")
	assert.Contains(t, string(body), `"hasStuckQueue":true`)

	st, err := Decode(body)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, st.Interval())
	assert.Equal(t, time.Minute, st.Threshold())
	assert.Equal(t, now.Truncate(time.Millisecond), st.Health.ComputedAt.Time())
	assert.False(t, *st.Health.PollStale)
	assert.Equal(t, 0, *st.Health.AvailableWorkers)
}
