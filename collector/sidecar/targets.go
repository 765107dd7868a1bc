package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"

	"github.com/go-kit/log"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// DefaultTargetName names the target given by flags instead of a config file.
const DefaultTargetName = "default"

// SingleTarget is the config of one target given by --target.url.
func SingleTarget(url string) *config.Config {
	return &config.Config{Targets: []config.TargetConfig{{Name: DefaultTargetName, URL: url, HTTPClientConfig: promconfig.DefaultHTTPClientConfig}}}
}

// TargetDefaults apply to every target whose config does not say otherwise.
type TargetDefaults struct {
	// FailureThreshold, RestartBudget and TerminationGrace: see
	// TargetOptions.
	FailureThreshold int
	TerminationGrace time.Duration
	RestartBudget    int
	Timeout          time.Duration
	StaleThreshold   time.Duration
	MaxBodyBytes     int64
	Logger           log.Logger
	// Now is our clock (monotonic). Default time.Now.
	Now func() time.Time
	// DisableKeepAlives closes each status request's connection when more
	// than keepAliveTargets targets are configured, as
	// blackbox_exporter does: with many targets, idle connections (two
	// goroutines and buffers each) would cost more than the handshakes.
	DisableKeepAlives bool
}

// Targets is the set of configured targets. Apply swaps in a new config;
// targets whose config did not change are kept, and a target whose URL did
// not change keeps what it knows of the daemon (verdict history, restart
// policy, counters) whatever else changed: the same URL is the same
// daemon. Only a new URL starts afresh.
type Targets struct {
	defaults TargetDefaults
	descs    *targetDescs

	mu      sync.RWMutex
	list    []*Target
	byName  map[string]*Target
	configs map[string]config.TargetConfig
}

// NewTargets returns an empty set.
func NewTargets(d TargetDefaults) *Targets {
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	return &Targets{defaults: d, descs: newTargetDescs(), configs: map[string]config.TargetConfig{}}
}

// Apply builds the targets of cfg. On error nothing changes.
func (s *Targets) Apply(cfg *config.Config) error {
	s.mu.RLock()
	old, oldConfigs := s.byName, s.configs
	s.mu.RUnlock()

	list := make([]*Target, 0, len(cfg.Targets))
	byName := make(map[string]*Target, len(cfg.Targets))
	configs := make(map[string]config.TargetConfig, len(cfg.Targets))
	var clients clientCache
	for _, tc := range cfg.Targets {
		t, ok := old[tc.Name]
		if !ok || !reflect.DeepEqual(oldConfigs[tc.Name], tc) {
			client, err := clients.get(tc.HTTPClientConfig, s.defaults.DisableKeepAlives && len(cfg.Targets) > keepAliveTargets)
			if err != nil {
				return fmt.Errorf("target %s: http client: %w", tc.Name, config.RedactErrorText(err))
			}
			prev := t
			t = s.build(tc, client)
			if ok && prev.opts.URL == tc.URL {
				t.adopt(prev)
			}
		}
		list = append(list, t)
		byName[tc.Name] = t
		configs[tc.Name] = tc
	}

	s.mu.Lock()
	s.list, s.byName, s.configs = list, byName, configs
	s.mu.Unlock()
	return nil
}

// keepAliveTargets is the most targets whose idle connections are kept
// when TargetDefaults.DisableKeepAlives is set: a handful of connections
// cost less than a handshake per scrape (3 × the floor's CPU with four
// targets, BENCHMARKS.md); a thousand would not.
const keepAliveTargets = 32

// clientCache shares one HTTP client among targets whose client configs
// are equal: a thousand targets with the default config hold one transport,
// not a thousand. Configs are compared in full (reflect.DeepEqual) only
// within a bucket of configs alike in the fields that tell targets apart
// most often, so that thousands of targets, each with a TLS server name
// of its own, cost a lookup each rather than a comparison with every
// client before it (5,000 such targets took 9 s to load).
type clientCache map[string][]cachedClient

type cachedClient struct {
	cfg    promconfig.HTTPClientConfig
	client *http.Client
}

// clientBucket is the bucket of cfg: equal configs share it, and most
// configs that differ (server name, CA, certificate, credentials) do not.
func clientBucket(cfg promconfig.HTTPClientConfig) string {
	t := cfg.TLSConfig
	key := []string{t.ServerName, t.CAFile, t.CertFile, t.KeyFile, cfg.BearerTokenFile}
	if b := cfg.BasicAuth; b != nil {
		key = append(key, b.Username, b.UsernameFile, b.PasswordFile)
	}
	if a := cfg.Authorization; a != nil {
		key = append(key, a.Type, a.CredentialsFile)
	}
	return strings.Join(key, "\x00")
}

func (c *clientCache) get(cfg promconfig.HTTPClientConfig, noKeepAlive bool) (*http.Client, error) {
	if *c == nil {
		*c = clientCache{}
	}
	bucket := clientBucket(cfg)
	for _, e := range (*c)[bucket] {
		if reflect.DeepEqual(e.cfg, cfg) {
			return e.client, nil
		}
	}
	// The User-Agent is set by fetchStatus: config.WithUserAgent would
	// clone every request to set it.
	opts := []promconfig.HTTPClientOption{promconfig.WithDialContextFunc(dialWithinRequest)}
	if noKeepAlive {
		opts = append(opts, promconfig.WithKeepAlivesDisabled())
	}
	client, err := promconfig.NewClientFromConfig(cfg, "dispatch_exporter", opts...)
	if err != nil {
		return nil, err
	}
	(*c)[bucket] = append((*c)[bucket], cachedClient{cfg, client})
	return client, nil
}

func (s *Targets) build(tc config.TargetConfig, client *http.Client) *Target {
	return NewTarget(TargetOptions{
		Name:             tc.Name,
		URL:              tc.URL,
		Secrets:          config.TargetSecrets(tc),
		Client:           client,
		Timeout:          orDefault(tc.Timeout, s.defaults.Timeout),
		StaleThreshold:   orDefault(tc.StaleThreshold, s.defaults.StaleThreshold),
		FailureThreshold: s.defaults.FailureThreshold,
		TerminationGrace: s.defaults.TerminationGrace,
		RestartBudget:    s.defaults.RestartBudget,
		MaxBodyBytes:     s.defaults.MaxBodyBytes,
		Logger:           s.defaults.Logger,
		Now:              s.defaults.Now,
		shared:           s.descs,
	})
}

func orDefault(d model.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}

// Get returns the target named name.
func (s *Targets) Get(name string) (*Target, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.byName[name]
	return t, ok
}

// Names lists the targets in config order.
func (s *Targets) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, len(s.list))
	for i, t := range s.list {
		names[i] = t.Name()
	}
	return names
}

// States describes each target's latest verdict in words, in config order.
func (s *Targets) States() []family.LoopState {
	s.mu.RLock()
	list := s.list
	s.mu.RUnlock()
	out := make([]family.LoopState, len(list))
	for i, t := range list {
		out[i] = t.State()
	}
	return out
}

// landingProbes is how many targets a read of the landing page probes at
// once when their latest decision is too old to show.
const landingProbes = 16

// FreshStates is States for a person reading the landing page: each target
// whose latest decision is older than maxAge (or that was never read) is
// read first, by up to landingProbes goroutines at a time, within ctx; a
// read that ctx cuts short shows what it decided on the request still in
// flight, and a target not reached by then its latest decision. The page
// then shows the daemon as it is, not UNKNOWN until a scrape comes.
func (s *Targets) FreshStates(ctx context.Context, maxAge time.Duration) []family.LoopState {
	s.mu.RLock()
	list := s.list
	s.mu.RUnlock()
	out := make([]family.LoopState, len(list))
	var unread []int
	now := s.now()
	for i, t := range list {
		out[i] = t.State()
		if out[i].ObservedAt.IsZero() || now.Sub(out[i].ObservedAt) > maxAge {
			unread = append(unread, i)
		}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(landingProbes, len(unread)) {
		wg.Go(func() {
			for i := range next {
				out[i] = list[i].Probe(ctx).State()
			}
		})
	}
feed:
	for _, i := range unread {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return out
}

func (s *Targets) now() time.Time {
	if s.defaults.Now != nil {
		return s.defaults.Now()
	}
	return time.Now()
}
