package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// subtreeMarkers delimit what alertmanager.yml asks to be pasted into
// another config: the route subtree and the receivers.
const (
	routeBegin    = "# BEGIN dispatch_exporter route subtree"
	routeEnd      = "# END dispatch_exporter route subtree"
	receiverBegin = "# BEGIN dispatch_exporter receivers"
	receiverEnd   = "# END dispatch_exporter receivers"
)

// between is the lines of file strictly between the lines holding begin
// and end, as written.
func between(t *testing.T, file, begin, end string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, begin)
	require.GreaterOrEqual(t, i, 0, "%s marks %q", file, begin)
	i += strings.Index(s[i:], "\n") + 1
	j := strings.Index(s[i:], end)
	require.Greater(t, j, 0, "%s marks %q after %q", file, end, begin)
	return s[i : i+strings.LastIndex(s[i:i+j], "\n")+1]
}

// alertmanagerProc is a real Alertmanager on 127.0.0.1 with a config, for
// what amtool cannot show: how alerts group and which are inhibited. It is
// killed when the test ends.
type alertmanagerProc struct {
	url string
}

func startAlertmanager(t *testing.T, config string) *alertmanagerProc {
	t.Helper()
	bin := dispatchtest.Tool(t, "ALERTMANAGER")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("alertmanager log:\n%s", b)
		}
	})
	am := &alertmanagerProc{url: "http://" + addr}
	require.Eventually(t, func() bool {
		resp, err := http.Get(am.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "alertmanager ready on %s", addr)
	return am
}

// post sends firing alerts with these label sets.
func (am *alertmanagerProc) post(t *testing.T, alerts ...map[string]string) {
	t.Helper()
	type postable struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
	}
	now := time.Now()
	var body []postable
	for _, a := range alerts {
		body = append(body, postable{Labels: a, StartsAt: now, EndsAt: now.Add(time.Hour)})
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(am.url+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// amGroup is an aggregation group: what one notification carries.
type amGroup struct {
	Labels   map[string]string `json:"labels"`
	Receiver struct {
		Name string `json:"name"`
	} `json:"receiver"`
	Alerts []amAlert `json:"alerts"`
}

func (am *alertmanagerProc) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(am.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v), path)
}

// groups is every aggregation group, waiting until they hold n alerts in all.
func (am *alertmanagerProc) groups(t *testing.T, n int) []amGroup {
	t.Helper()
	var groups []amGroup
	require.Eventually(t, func() bool {
		groups = nil
		am.get(t, "/api/v2/alerts/groups", &groups)
		total := 0
		for _, g := range groups {
			total += len(g.Alerts)
		}
		return total == n
	}, 10*time.Second, 50*time.Millisecond, "alertmanager holds %d alerts", n)
	return groups
}

// key is a label set as one string, for messages and maps.
func key(l map[string]string) string {
	return fmt.Sprint(l)
}
