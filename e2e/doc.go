// Package e2e holds black-box simulations of dispatch_exporter: a simulated
// smithy daemon, Prometheus scraping the exporter and evaluating the
// project's own alert rules, and a kubelet acting on the liveness endpoint's
// answers, all on a fake clock (testing/synctest). They measure harm in the
// user's words (false pages, missed pages, needless kills, restart loops)
// against the simulated daemon's real state, through the exported API only.
package e2e
