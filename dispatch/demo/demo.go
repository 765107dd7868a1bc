// Package demo is a simulated dispatch daemon built on dispatch.Loop, for
// learning the dashboards and alerts and for end-to-end tests: tasks arrive
// at random, workers take and finish them, each cycle walks smithy's phases
// with small random delays, and faults are injected over HTTP.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Phases are the steps of a cycle, as smithy's dispatch daemon takes them.
func Phases() []string {
	return []string{"orphan-recovery", "inbox", "worker-availability", "task-assignment", "steward-triggers", "workflow-tasks"}
}

// Options configure the demo daemon.
type Options struct {
	// Interval between cycles. Required.
	Interval time.Duration
	// StaleThreshold overrides the default max(60s, 10 × Interval).
	StaleThreshold time.Duration
	// Workers available at start. Default 3 (SetWorkers(0) for none).
	Workers int
	// MaxPhaseDelay bounds each phase's random delay. Default 20ms.
	MaxPhaseDelay time.Duration
	// Seed makes the simulation repeatable; 0 picks one at random.
	Seed uint64
	// Logger, Clock, WatchdogInterval and StackDumpDir go to the loop.
	Logger           log.Logger
	Clock            dispatch.Clock
	WatchdogInterval time.Duration
	StackDumpDir     string
}

// Daemon is the simulated daemon.
type Daemon struct {
	loop     *dispatch.Loop
	logger   log.Logger
	maxDelay time.Duration

	mu      sync.Mutex
	ctx     context.Context // the daemon's lifetime, for /demo/start
	rng     *rand.Rand
	ready   int   // ready tasks with no assignee
	workers int   // available workers
	running []int // cycles left for each task a worker holds
	wedge   *wedge
}

// wedge is an injected hang: the cycle that meets it blocks in its phase,
// deaf to its context like a hung await, until released.
type wedge struct {
	phase   string
	release chan struct{}
}

// New builds a stopped demo daemon.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Workers == 0 {
		opts.Workers = 3
	}
	if opts.MaxPhaseDelay <= 0 {
		opts.MaxPhaseDelay = 20 * time.Millisecond
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	d := &Daemon{
		logger:   opts.Logger,
		maxDelay: opts.MaxPhaseDelay,
		rng:      rand.New(rand.NewPCG(seed, seed^0x5eed)),
		workers:  opts.Workers,
		ctx:      context.Background(),
	}
	loop, err := dispatch.NewLoop(d.cycle, dispatch.Options{
		Name: "dispatch", Interval: opts.Interval, StaleThreshold: opts.StaleThreshold,
		Logger: opts.Logger, Clock: opts.Clock, WatchdogInterval: opts.WatchdogInterval, StackDumpDir: opts.StackDumpDir,
	})
	if err != nil {
		return nil, fmt.Errorf("demo daemon: %w", err)
	}
	d.loop = loop
	loop.SetQueue(0, opts.Workers)
	return d, nil
}

// Loop is the daemon's dispatch loop, for collectors.
func (d *Daemon) Loop() *dispatch.Loop { return d.loop }

// Start starts the loop; it runs until Stop or until ctx is done.
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	return d.loop.Start(ctx)
}

// Shutdown releases any wedge and stops the loop.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.Unwedge()
	return d.loop.Stop(ctx)
}

// Wedge arms a hang: the next cycle to reach phase blocks there until
// Unwedge. An empty phase picks one at random. It returns the phase.
func (d *Daemon) Wedge(phase string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if phase == "" {
		phase = Phases()[d.rng.IntN(len(Phases()))]
	}
	if !slices.Contains(Phases(), phase) {
		return "", fmt.Errorf("unknown phase %q; phases: %v", phase, Phases())
	}
	if d.wedge == nil {
		d.wedge = &wedge{phase: phase, release: make(chan struct{})}
	}
	return d.wedge.phase, nil
}

// Unwedge releases an injected hang; it reports whether there was one.
func (d *Daemon) Unwedge() bool {
	d.mu.Lock()
	w := d.wedge
	d.wedge = nil
	d.mu.Unlock()
	if w != nil {
		close(w.release)
	}
	return w != nil
}

// SetWorkers sets the number of available workers; 0 makes the queue stuck
// as soon as a task is ready.
func (d *Daemon) SetWorkers(n int) error {
	if n < 0 {
		return errors.New("workers must not be negative")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.workers = n
	d.report()
	return nil
}

// AddTasks makes n more tasks ready.
func (d *Daemon) AddTasks(n int) error {
	if n < 0 {
		return errors.New("tasks must not be negative")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready += n
	d.report()
	return nil
}

// report publishes the queue to the loop. Called with d.mu held.
func (d *Daemon) report() { d.loop.SetQueue(d.ready, d.workers) }

// cycle is one simulated poll cycle.
func (d *Daemon) cycle(ctx context.Context) error {
	for _, phase := range Phases() {
		d.loop.SetPhase(phase)
		if err := d.pause(ctx, phase); err != nil {
			return err
		}
		d.mu.Lock()
		d.step(phase)
		d.report()
		d.mu.Unlock()
	}
	return nil
}

// pause waits a random moment, or blocks for good if a wedge is armed for
// this phase.
func (d *Daemon) pause(ctx context.Context, phase string) error {
	d.mu.Lock()
	w := d.wedge
	delay := time.Duration(d.rng.Int64N(int64(d.maxDelay) + 1))
	d.mu.Unlock()
	if w != nil && w.phase == phase {
		level.Debug(d.logger).Log("msg", "demo: cycle wedged", "phase", phase)
		<-w.release // a hung await: deaf to ctx
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("phase %s: %w", phase, ctx.Err())
	}
}

// step simulates one phase's work. Called with d.mu held.
func (d *Daemon) step(phase string) {
	switch phase {
	case "orphan-recovery": // tasks whose worker went away are ready again
		if lost := len(d.running) - d.workers; lost > 0 {
			d.running = d.running[:d.workers]
			d.ready += lost
		}
	case "inbox": // new tasks arrive now and then
		if d.rng.IntN(3) == 0 {
			d.ready += 1 + d.rng.IntN(2)
		}
	case "task-assignment":
		for d.ready > 0 && len(d.running) < d.workers {
			d.ready--
			d.running = append(d.running, 1+d.rng.IntN(4))
		}
	case "workflow-tasks": // work progresses; finished tasks free their worker
		kept := d.running[:0]
		for _, left := range d.running {
			if left > 1 {
				kept = append(kept, left-1)
			}
		}
		d.running = kept
	}
}
