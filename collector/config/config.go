package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

// MaxFileBytes is the largest config file read: 5,000 targets, each with
// a TLS client certificate, basic auth and its own timeouts, take 2.6 MiB
// (420 KiB with a name and a URL only), and parsing costs about ten times
// the file's size in memory, twice over while a reload replaces a config.
// A 64 MiB file took 12 s to check and a 50 MiB reload reached 593 MB RSS.
const MaxFileBytes = 4 << 20

// ErrTooLarge is the error LoadConfig wraps for a file over MaxFileBytes.
var ErrTooLarge = fmt.Errorf("over the %d MiB limit of a config file", MaxFileBytes>>20)

// MaxTargetTimeout is the longest timeout a target may have: every request
// the exporter serves then ends well within its HTTP server's write
// timeout, and a Prometheus scrape timeout is seldom longer.
const MaxTargetTimeout = time.Minute

// LoadConfig reads and checks a config file strictly: unknown keys, a
// missing or duplicate name, a bad URL or a bad HTTP client option are
// errors, and so is a file over MaxFileBytes (ErrTooLarge), which is not
// parsed at all. Relative file paths in it are resolved against its
// directory.
func LoadConfig(path string) (*Config, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
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

// readLimited reads path, refusing it (before reading it when its size is
// known) once over MaxFileBytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("config %s: %d bytes: %w", path, st.Size(), ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("config %s: %w", path, ErrTooLarge)
	}
	return b, nil
}

// ParseConfig parses a config document strictly. An error names the line,
// the target and the field where it can ("line 4: target eu: unknown field
// timeuot"), in YAML's words rather than Go's types, and never shows a
// target URL's credentials.
func ParseConfig(b []byte) (*Config, error) {
	cfg, err := parseConfig(b)
	return cfg, RedactErrorText(err) // a decoder's message may quote a URL (proxy_url) with its secrets
}

func parseConfig(b []byte) (*Config, error) {
	// One YAML tree, read once, serves the size check and the errors'
	// positions.
	tree := parseTree(b)
	// The size limit bounds what a config costs only as expanded: an
	// alias decodes to a copy of what it names.
	if n := expandedSize(tree, MaxFileBytes); n > MaxFileBytes {
		return nil, fmt.Errorf("YAML aliases expand it past %d bytes: %w", MaxFileBytes, ErrTooLarge)
	}
	doc := nodesOf(tree)
	var cfg Config
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return nil, explainYAMLError(doc, err)
	}
	if len(cfg.Targets) == 0 {
		return nil, errors.New("no targets: list at least one under targets")
	}
	seen := map[string]bool{}
	for i, t := range cfg.Targets {
		if err := t.validate(); err != nil {
			return nil, fmt.Errorf("%s%w", doc.position(i, err.field), err)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%starget %s: duplicate name %q", doc.position(i, "name"), t.Name, t.Name)
		}
		seen[t.Name] = true
	}
	return &cfg, nil
}

// ValidateTargetURL checks a status endpoint's URL: http or https, with a
// host. The error never shows the URL's credentials.
func ValidateTargetURL(raw string) error {
	u, err := url.Parse(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("not a URL: %w", ue.Err) // ue.URL is raw, secrets and all
	}
	if err != nil {
		return fmt.Errorf("not a URL: %w", RedactError(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("want http:// or https:// and a host, got %q", RedactURL(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	return nil
}

// fieldError is a target's invalid field.
type fieldError struct {
	target, field string
	err           error
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("target %s: %s: %s", e.target, e.field, e.err)
}

func (e *fieldError) Unwrap() error { return e.err }

func (t TargetConfig) validate() *fieldError {
	if !validTargetName(t.Name) {
		return &fieldError{fmt.Sprintf("%q", t.Name), "name", errors.New("use letters, digits and _ . : -")}
	}
	if err := ValidateTargetURL(t.URL); err != nil {
		return &fieldError{t.Name, "url", err}
	}
	if t.Timeout < 0 || time.Duration(t.Timeout) > MaxTargetTimeout {
		return &fieldError{t.Name, "timeout", fmt.Errorf("must be from 0 (--target.timeout) to %s", MaxTargetTimeout)}
	}
	if t.StaleThreshold < 0 {
		return &fieldError{t.Name, "stale_threshold", errors.New("must not be negative")}
	}
	if err := t.HTTPClientConfig.Validate(); err != nil {
		return &fieldError{t.Name, "http client", err}
	}
	return nil
}
