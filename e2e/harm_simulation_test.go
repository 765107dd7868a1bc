package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// TestHarmSimulation runs histories of simulated smithy daemons watched by
// dispatch_exporter's Targets, scraped by a simulated Prometheus that
// evaluates alerts/dispatch.rules.yml with its own rule engine, and
// liveness-probed by a simulated kubelet that kills what the exporter says
// to restart. Everything runs concurrently on synctest's fake clock. It
// counts harm in the user's words against the daemons' real state (see
// harms.go's names) and fails when a count exceeds its budget.
//
// `go test .` in e2e/ runs 300 histories; `make simulate` runs thousands. A
// failing history prints its log; rerun it alone with -sim.seed=N.
var (
	simHistories = flag.Int("sim.histories", 300, "histories of the harm simulation")
	simSeed      = flag.Uint64("sim.seed", 0, "run this one seed of the harm simulation (0: seeds 1..sim.histories)")
	simLog       = flag.Int("sim.loglines", 250, "lines of a failing history's log to print")
	simNotes     = flag.Int("sim.notes", 40, "failing histories to list with one line of harms each")
)

// historyLength is how much fake time one history runs.
const historyLength = 30 * time.Minute

// Modes of a history: who acts on the liveness endpoint's answers.
const (
	modeEnforce = iota // a kubelet kills on failureThreshold 503s
	modeShadow         // a kubelet probes; the endpoint only logs "would restart"
	modeNobody         // nobody probes, nobody restarts
)

var modeNames = [...]string{"enforce", "shadow", "nobody restarts"}

func TestHarmSimulation(t *testing.T) {
	t.Parallel()
	seeds := make([]uint64, 0, *simHistories)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := range *simHistories {
			seeds = append(seeds, uint64(s+1))
		}
	}
	results := make([]*historyResult, len(seeds))
	workers := min(runtime.GOMAXPROCS(0), len(seeds))
	t.Run("histories", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprintf("worker%d", w), func(t *testing.T) {
				t.Parallel()
				for i := w; i < len(seeds); i += workers {
					results[i] = runHistory(t, seeds[i])
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	total := newTally()
	failing := 0
	for _, r := range results {
		total.merge(r.tally)
		if r.tally.harmful() {
			failing++
			if failing <= 3 {
				t.Logf("seed %d: %s\n%s\nharms:\n  %s\nhistory:\n%s", r.seed, r.setup, r.tally.line(),
					strings.Join(r.notes, "\n  "), r.log.String(*simLog))
			} else if failing <= *simNotes {
				t.Logf("seed %d: %s", r.seed, strings.Join(r.notes, "; "))
			}
		}
	}
	t.Logf("%d histories (%d with harm), %d daemons, %d hangs, %d kubelet kills, %d scrapes, %d liveness probes",
		len(seeds), failing, total.daemons, total.hangs, total.kills, total.scrapes, total.probes)
	t.Logf("modes: %d enforce, %d shadow, %d nobody restarts; %d usable-answer wedges", total.modes[modeEnforce],
		total.modes[modeShadow], total.modes[modeNobody], total.usableWedges)
	for _, h := range harmNames {
		t.Logf("harm %-22s %5d (budget %d)", h, total.harms[h], harmBudget[h])
	}
	for _, e := range exceptionNames {
		t.Logf("exception %-17s %5d", e, total.exceptions[e])
	}
	causes := make([]string, 0, len(total.missedBy))
	for c, n := range total.missedBy {
		causes = append(causes, fmt.Sprintf("%s: %d", c, n))
	}
	sort.Strings(causes)
	t.Logf("missed or late pages by what the daemon did: %s", strings.Join(causes, ", "))
	for _, h := range harmNames {
		if total.harms[h] > harmBudget[h] {
			t.Errorf("%s: %d over %d histories, budget %d", h, total.harms[h], len(seeds), harmBudget[h])
		}
	}
	if len(seeds) >= 100 {
		for what, n := range map[string]int{"hangs": total.hangs, "kubelet kills": total.kills,
			"shadow-mode histories": total.modes[modeShadow], "nobody-restarts histories": total.modes[modeNobody],
			"usable-answer wedges": total.usableWedges} {
			if n == 0 {
				t.Errorf("coverage: no %s in %d histories", what, len(seeds))
			}
		}
	}
}

// historyResult is one history's outcome.
type historyResult struct {
	seed  uint64
	setup string
	tally *tally
	notes []string
	log   *eventLog
}

// instance is one daemon with its Target and the actors around it.
type instance struct {
	name    string
	d       *daemon
	tgt     *sidecar.Target
	k       *kubeletConfig
	kubelet *kubelet
	scraper *scraper
}

// runHistory runs one seed's history in a synctest bubble, then evaluates
// the alert rules over what Prometheus recorded and counts the harms.
func runHistory(t *testing.T, seed uint64) *historyResult {
	res := &historyResult{seed: seed}
	var insts []*instance
	var start, end time.Time
	rec := newRecording()
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		start = time.Now()
		res.log = newEventLog(start)
		mode := []int{modeEnforce, modeEnforce, modeShadow, modeNobody}[rng.IntN(4)]
		n := []int{1, 1, 1, 1, 1, 1, 1, 2, 2, 3}[rng.IntN(10)]
		var setup []string
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range n {
			name := fmt.Sprintf("d%d", i+1)
			interval := time.Duration(1+rng.IntN(60)) * time.Second
			thr := dispatch.DefaultStaleThreshold(interval)
			override := rng.IntN(5) < 2
			if override {
				thr = time.Duration(3+rng.IntN(8)) * time.Second
				interval = time.Duration(1+rng.IntN(max(1, int(thr/time.Second)/3))) * time.Second
			}
			// One daemon in eight starts slowly (migrations, a cache to
			// warm): two to three times its threshold of its own, 20 to
			// 60 seconds.
			slow := rng.IntN(8) == 0
			if slow {
				override = true
				thr = time.Duration(20+rng.IntN(41)) * time.Second
				interval = time.Duration(1+rng.IntN(int(thr/time.Second)/3)) * time.Second
			}
			d := newDaemon(name, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), res.log, interval, thr)
			d.slowStarts = slow
			k := newKubeletConfig(rng)
			opts := sidecar.TargetOptions{Name: name, URL: "http://" + name + ":3457/api/daemon/status",
				Client: &http.Client{Transport: d}, Timeout: 5 * time.Second,
				FailureThreshold: int(k.failureThreshold)}
			if override {
				opts.StaleThreshold = thr
			}
			in := &instance{name: name, d: d, tgt: sidecar.NewTarget(opts), k: k}
			in.scraper = &scraper{tgt: in.tgt, instance: name, rec: rec, log: res.log, rng: rand.New(rand.NewPCG(rng.Uint64(), 1))}
			desc := fmt.Sprintf("%s: interval %s, threshold %s (override %v), skew %s, computedAt %s", name, interval, thr, override,
				d.skew, []string{"always", "never", "sometimes"}[d.computedAt])
			var kc *kubeletConfig
			if mode != modeNobody {
				kc = k
				in.kubelet = &kubelet{cfg: k, d: d, tgt: in.tgt, shadow: mode == modeShadow, rng: rand.New(rand.NewPCG(rng.Uint64(), 2))}
				desc += fmt.Sprintf("; kubelet period %s timeout %s failureThreshold %d startup %s grace %s",
					k.period, k.timeout, int(k.failureThreshold), k.startupWindow, k.grace)
			}
			setup = append(setup, desc)
			insts = append(insts, in)
			wg.Add(2)
			go func() { defer wg.Done(); d.drive(ctx, 500*time.Millisecond, mode == modeEnforce, kc) }()
			go func() { defer wg.Done(); in.scraper.run(ctx) }()
			if in.kubelet != nil {
				wg.Add(1)
				go func() { defer wg.Done(); in.kubelet.run(ctx) }()
			}
		}
		res.setup = fmt.Sprintf("mode %s; %s", modeNames[mode], strings.Join(setup, "; "))
		res.log.add("history", "seed %d, %s", seed, res.setup)
		time.Sleep(historyLength)
		end = time.Now()
		cancel()
		wg.Wait()
		// Requests a caller gave up on go on under the target's own
		// timeout: let them end inside the bubble.
		time.Sleep(time.Minute)
		synctest.Wait()
		res.tally = newTally()
		res.tally.modes[mode]++
	})
	times, fired, err := firing(rec, start, end)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	for _, in := range insts {
		res.notes = append(res.notes, countHarms(res.tally, in, times, fired, end)...)
	}
	return res
}
