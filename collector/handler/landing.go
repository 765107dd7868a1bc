package handler

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Landing serves exporter-toolkit's landing page with, above its links, each
// loop's verdict in words (healthy / stuck / wedged, since when, last
// error), rendered afresh per request. states gets the request's context:
// a source may read what it has not read lately (Targets.FreshStates), so
// it is asked only for the page itself: any other path (the landing page
// is mounted on /) is 404 first, and reads no daemon.
func Landing(cfg web.LandingConfig, states func(context.Context) []family.LoopState) http.Handler {
	root := cfg.RoutePrefix // as web.NewLandingPage serves it
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != root {
			http.NotFound(w, r)
			return
		}
		c := cfg
		c.Links = append([]web.LandingLinks(nil), cfg.Links...) // NewLandingPage edits them
		c.ExtraHTML = statesHTML(states(r.Context()), time.Now()) + cfg.ExtraHTML
		c.ExtraCSS = stateCSS + cfg.ExtraCSS
		page, err := web.NewLandingPage(c)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page.ServeHTTP(w, r)
	})
}

const stateCSS = `
table.loops { border-collapse: collapse; margin: 1em 0; }
table.loops td, table.loops th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
.state-wedged { background: #c4162a; color: #fff; }
.state-stuck { background: #ff9830; }
.state-down, .state-unknown { background: #8e8e8e; color: #fff; }
.state-stopped { background: #8ab8ff; }
.state-healthy { background: #56a64b; color: #fff; }
`

// statesHTML is the table of decisions. Every value is escaped: reasons and
// errors can carry text from a remote daemon. The CSS classes are the
// dispatch.State values. "As of" is when the decision was taken, on our
// clock, and how long ago; the other times are on the daemon's clock, so
// none of them is compared with ours.
func statesHTML(states []family.LoopState, now time.Time) string {
	var b strings.Builder
	b.WriteString(`<h3>Dispatch loops</h3><table class="loops"><tr><th>loop</th><th>status</th><th>state</th><th>as of</th><th>wedged since</th><th>no cycle completed for</th><th>queue</th><th>why</th><th>restarts</th><th>last error</th></tr>`)
	for _, s := range states {
		up := "up"
		switch {
		case s.Evidence == dispatch.EvidenceNone:
			up = "not read yet"
		case !s.Up:
			up = "down"
		}
		asOf := "now"
		if !s.ObservedAt.IsZero() {
			asOf = fmt.Sprintf("%s (%s ago)", s.ObservedAt.UTC().Format(time.RFC3339), now.Sub(s.ObservedAt).Truncate(time.Second))
		}
		since := ""
		if !s.Since.IsZero() {
			since = s.Since.UTC().Format(time.RFC3339)
		}
		silence := ""
		if s.SinceCompleted > 0 {
			silence = s.SinceCompleted.Truncate(time.Second).String()
		}
		queue := ""
		if s.QueueKnown {
			queue = fmt.Sprintf("%d ready, %d available worker(s)", s.Ready, s.Workers)
			if !s.StuckSince.IsZero() {
				queue += "; stuck since " + s.StuckSince.UTC().Format(time.RFC3339)
			}
		}
		restarts := s.Liveness
		if s.RestartBudgetSpent && restarts == "" {
			restarts = fmt.Sprintf("restart budget spent after %d request(s): a person must look", s.RestartRequests)
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td class="state-%s"><b>%s</b></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			html.EscapeString(s.Name), up, s.State, strings.ToUpper(string(s.State)), asOf, since, silence, queue,
			html.EscapeString(s.Reason), html.EscapeString(restarts), html.EscapeString(s.Error))
	}
	b.WriteString(`</table>`)
	if len(states) == 0 {
		b.WriteString(`<p>No loops configured.</p>`)
	}
	b.WriteString(legend)
	return b.String()
}

const legend = `<p><b>WEDGED</b>: the evidence shows a hung loop (no cycle completed within the threshold); restart the daemon's process.
<b>STUCK</b>: ready tasks wait and no worker is available. <b>DOWN</b>: no usable status, and nothing read shows a hung loop.
<b>UNKNOWN</b>: not read yet. <b>STOPPED</b>: the loop is stopped on purpose.</p>`
