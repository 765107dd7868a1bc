package sidecar

import (
	"errors"
	"sync"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNoConfigFile is what Reload returns when the targets came from flags:
// there is no file to re-read, and nothing changes.
var ErrNoConfigFile = errors.New("no --config.file to reload: the target comes from --target.url")

// Reloader re-reads the config file into Targets (on SIGHUP and
// POST /-/reload). A bad file keeps the old config, logs why and sets
// dispatch_exporter_config_last_reload_successful to 0.
type Reloader struct {
	path    string
	targets *Targets
	logger  log.Logger

	mu          sync.Mutex
	successful  prometheus.Gauge
	successTime prometheus.Gauge
}

// NewReloader registers the reload metrics on reg. With an empty path (the
// target came from flags) Load succeeds and Reload answers ErrNoConfigFile.
func NewReloader(path string, targets *Targets, reg prometheus.Registerer, logger log.Logger) *Reloader {
	r := &Reloader{
		path:    path,
		targets: targets,
		logger:  logger,
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: family.ReloadSuccessfulMetric,
			Help: "1 when the last reload of the config file succeeded, 0 when it failed and the previous config stayed in force.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: family.ReloadTimestampMetric,
			Help: "Unix time of the last successful config load.",
		}),
	}
	reg.MustRegister(r.successful, r.successTime)
	return r
}

// Load is the first load, at start-up: there is no previous config to keep,
// so an error is the caller's to report (and the exporter's to exit on).
func (r *Reloader) Load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(); err != nil {
		r.successful.Set(0)
		return err
	}
	r.loaded()
	return nil
}

// Reload loads the config file again and applies it; on error the previous
// config stays in force, and the error is logged. Without a config file it
// returns ErrNoConfigFile and changes nothing.
func (r *Reloader) Reload() error {
	if r.path == "" {
		return ErrNoConfigFile
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.load()
	if err != nil {
		level.Error(r.logger).Log("msg", "config reload failed; the previous config stays in force", "file", r.path, "err", err)
		r.successful.Set(0)
		return err
	}
	r.loaded()
	return nil
}

func (r *Reloader) loaded() {
	r.successful.Set(1)
	r.successTime.Set(float64(time.Now().UnixNano()) / 1e9)
	if r.path != "" {
		level.Info(r.logger).Log("msg", "config loaded", "file", r.path, "targets", len(r.targets.Names()))
	}
}

func (r *Reloader) load() error {
	if r.path == "" {
		return nil
	}
	cfg, err := config.LoadConfig(r.path)
	if err != nil {
		return err
	}
	return r.targets.Apply(cfg)
}
