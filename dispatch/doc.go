// Package dispatch models a dispatch daemon's poll loop and judges whether it
// has wedged.
//
// Data flows one way: a source (the in-process Loop, or a remote daemon's
// status read by the sidecar) produces a Health observation; Judge turns it
// into a Verdict; metrics, logs, the landing page and health endpoints all
// read that one Verdict.
//
// The package has no Prometheus dependency: embedding daemons pay only for
// the loop, and the collector package turns Health and Verdict into metrics.
package dispatch
