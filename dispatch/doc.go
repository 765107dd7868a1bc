// Package dispatch models a dispatch daemon's poll loop and judges whether it
// has wedged.
//
// Data flows one way: a source (a Monitor in process, or a remote daemon's
// status read by the sidecar through a Tracker) produces a Health
// observation; Decide (through Judge) turns it into an Assessment; metrics,
// logs, the landing page and liveness answers all read that one decision.
//
// # Watching a loop in process
//
// A daemon that keeps its own loop (a ticker, a scheduler) marks it on a
// Monitor: Started and Stopped around the loop, Begin and End around each
// cycle, SetPhase and SetQueue when it knows them. A daemon that would
// rather hand its cycle over runs it on a Loop, which marks its own Monitor.
// Either way:
//
//   - register collector.NewLoopCollector(mon) (or (loop)) on the Prometheus
//     registry: it exports the dispatch_* families the bundled dashboards and
//     alerts read, judged at scrape time;
//   - the monitor's watchdog logs WEDGED, RECOVERED, STUCK and RESUMED once
//     each to Options.Logger (a go-kit logger, or SlogLogger for log/slog),
//     and writes every goroutine's stack to a file at WEDGED (see
//     Options.StackDumpDir);
//   - Monitor.Liveness answers a liveness probe from the same decision.
//
// In a daemon (ExampleMonitor runs it):
//
//	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
//	c, err := collector.NewLoopCollector(mon)
//	prometheus.MustRegister(c)
//	mon.Started(ctx)
//	defer mon.Stopped()
//	for range ticker.C {
//		mon.Begin()
//		mon.End(poll(ctx))
//	}
//
// The package has no Prometheus dependency: embedding daemons pay only for
// the loop, and the collector package turns Health and the decision into
// metrics.
package dispatch
