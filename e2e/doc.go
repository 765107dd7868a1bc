// Package e2e holds dispatch_exporter's end-to-end tests and benchmark
// programs, black-box through the exported API and the built binary.
//
// The end-to-end tests and benchmarks build the exporter from the module
// root (go build, as a user would) and run it beside real Prometheus and
// Alertmanager (`make test` installs them): a wedge pages, the rules route
// and inhibit, the version a build says, detection latency, 1,000 targets,
// and the comparison with json_exporter.
//
// The harm simulation runs a simulated smithy daemon, Prometheus scraping
// the exporter and evaluating the project's own alert rules, and a kubelet
// acting on the liveness endpoint's answers, all on a fake clock
// (testing/synctest). It measures harm in the user's words (false pages,
// missed pages, needless kills, restart loops) against the simulated
// daemon's real state.
package e2e
