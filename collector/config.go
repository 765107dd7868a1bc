package collector

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
)

// Config is the --config.file: the daemons a sidecar watches.
type Config struct {
	Targets []TargetConfig `yaml:"targets"`
}

// TargetConfig is one daemon's status endpoint and how to reach it. Every
// option of prometheus/common's HTTPClientConfig (tls_config, basic_auth,
// authorization, bearer_token_file, proxy_url, ...) sits beside url, as in
// a Prometheus scrape config.
type TargetConfig struct {
	// Name is what /probe?target= and /-/target/healthy?target= take.
	Name string `yaml:"name"`
	// URL of the status endpoint, http or https.
	URL string `yaml:"url"`
	// Timeout bounds each request; default --target.timeout.
	Timeout model.Duration `yaml:"timeout,omitempty"`
	// StaleThreshold overrides the daemon's; default --poll.stale-threshold,
	// else the daemon's pollStaleThresholdMs, else max(60s, 10 × interval).
	StaleThreshold model.Duration `yaml:"stale_threshold,omitempty"`

	HTTPClientConfig config.HTTPClientConfig `yaml:",inline"`
}

// UnmarshalYAML sets the HTTP client defaults before decoding.
func (c *TargetConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*c = TargetConfig{HTTPClientConfig: config.DefaultHTTPClientConfig}
	type plain TargetConfig
	return unmarshal((*plain)(c))
}

// validTargetName: a target name travels in URLs and logs, so it holds
// letters, digits and _ . : - only.
func validTargetName(name string) bool {
	return name != "" && !strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r))
	})
}

// LoadConfig reads and checks a config file strictly: unknown keys, a
// missing or duplicate name, a bad URL or a bad HTTP client option are
// errors. Relative file paths in it are resolved against its directory.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	for i := range cfg.Targets {
		cfg.Targets[i].HTTPClientConfig.SetDirectory(dir)
	}
	return cfg, nil
}

// ParseConfig parses a config document strictly.
func ParseConfig(b []byte) (*Config, error) {
	var cfg Config
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(cfg.Targets) == 0 {
		return nil, errors.New("no targets: list at least one under targets")
	}
	seen := map[string]bool{}
	for i, t := range cfg.Targets {
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("targets[%d]: %w", i, err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("targets[%d]: duplicate name %q", i, t.Name)
		}
		seen[t.Name] = true
	}
	return &cfg, nil
}

func (t TargetConfig) validate() error {
	if !validTargetName(t.Name) {
		return fmt.Errorf("name %q: use letters, digits and _ . : -", t.Name)
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return fmt.Errorf("target %s: url: %w", t.Name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target %s: url %q: want http:// or https:// and a host", t.Name, t.URL)
	}
	if t.Timeout < 0 || t.StaleThreshold < 0 {
		return fmt.Errorf("target %s: timeout and stale_threshold must not be negative", t.Name)
	}
	if err := t.HTTPClientConfig.Validate(); err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	return nil
}
