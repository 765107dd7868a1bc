// Package deploy holds the deployment examples users copy: Prometheus
// scrape configs, docker-compose, Kubernetes and systemd. Its tests check
// them with the real tools where the machine has them.
package deploy

//go:generate go run ./generate
