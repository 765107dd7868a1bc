package e2e

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// mutant is one deliberate bug: the harm simulation must fail with it.
type mutant struct {
	name     string
	file     string // relative to the repository's root
	old, new string // old must occur exactly once in file
}

// mutants is the one table of deliberate bugs. When the code they patch
// changes, edit them here: a mutant whose old text is gone (or occurs
// twice) fails TestMutantsAreCaught as stale.
var mutants = []mutant{
	{
		name: "refusal counted as a hang",
		file: "collector/sidecar/fetch.go",
		old:  "return dispatch.EvidenceRefused",
		new:  "return dispatch.EvidenceHung",
	},
	{
		name: "no clock-step handling",
		file: "dispatch/tracker.go",
		old:  "t.stepAt, placeKnown = at, false\n\t\t\tnotes = append(notes, \"the daemon's clock stepped against ours",
		new:  "placeKnown = false\n\t\t\tnotes = append(notes, \"the daemon's clock stepped against ours",
	},
	{
		name: "no restart detection from timestamps",
		file: "dispatch/tracker.go",
		old:  "return hs.Before(ps) || hc.Before(pc)",
		new:  "return false && (hs.Before(ps) || hc.Before(pc))",
	},
	{
		// Without its budget the back-off still bounds the restarts of a
		// hang that goes on, so the two are removed together.
		name: "no back-off or budget",
		file: "dispatch/restart.go",
		old:  "grace := thresholdOf(o) << min(p.requests, maxGraceDoublings)",
		new:  "grace := thresholdOf(o)\n\t\tp.Budget = p.requests + 1",
	},
	{
		name: "no budget",
		file: "dispatch/restart.go",
		old:  "if p.requests >= p.Budget {",
		new:  "if false {",
	},
	{
		name: "a 503 ends a wedge",
		file: "collector/sidecar/status.go",
		old:  "t.policy = next",
		new:  "t.policy = next\n\t\tif l.Restart {\n\t\t\tt.tracker = dispatch.NewTracker(t.opts.StaleThreshold)\n\t\t}",
	},
}

var (
	mutate          = flag.Bool("mutate", false, "run TestMutantsAreCaught (slow; or MUTATE=1)")
	mutantHistories = flag.Int("mutate.histories", 300, "histories of the harm simulation per mutant")
)

// TestMutantsAreCaught applies each mutant to a copy of the module and
// requires the harm simulation to fail on it.
func TestMutantsAreCaught(t *testing.T) {
	if !*mutate && os.Getenv("MUTATE") != "1" {
		t.Skip("slow: run with -mutate or MUTATE=1 (make mutate)")
	}
	t.Parallel()
	root := moduleRoot(t)
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := copyTree(root, dir); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, m.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(src), m.old); n != 1 {
				t.Fatalf("stale mutant: %q occurs %d times in %s, want once", m.old, n, m.file)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(src), m.old, m.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "test", "-count=1", "-run", "^TestHarmSimulation$", ".",
				"-args", fmt.Sprintf("-sim.histories=%d", *mutantHistories))
			cmd.Dir = filepath.Join(dir, "e2e")
			cmd.Env = append(os.Environ(), "MUTATE=0")
			out, err := cmd.CombinedOutput()
			counts := harmCounts(string(out))
			if err == nil {
				t.Errorf("mutant %q not caught: the harm simulation passes with it\n%s", m.name, harmSummary(string(out)))
				return
			}
			if len(counts) == 0 {
				t.Errorf("mutant %q: the simulation failed but counted no harm (build error?):\n%s", m.name, tail(string(out), 40))
				return
			}
			// Failing says nothing by itself (the unmutated code may count
			// harms of its own): the mutant must add harm on the same seeds.
			// Runs are not exactly repeatable (goroutines that wake at the
			// same fake instant run in any order), so a count must exceed
			// the baseline's by more than noise: 2, or a tenth.
			base := baseline(t, root)
			var more []string
			for h, n := range counts {
				if n > base[h]+max(2, base[h]/10) {
					more = append(more, fmt.Sprintf("%s %d > %d", h, n, base[h]))
				}
			}
			if len(more) == 0 {
				t.Errorf("mutant %q not caught: it fails, but the unmutated code fails as much on the same seeds (%v vs %v)", m.name, counts, base)
				return
			}
			t.Logf("caught: %s: %s\n%s", m.name, strings.Join(more, ", "), harmSummary(string(out)))
		})
	}
}

var (
	baselineOnce   sync.Once
	baselineCounts map[string]int
)

// baseline is the harm counts of the unmutated module on the same seeds.
func baseline(t *testing.T, root string) map[string]int {
	baselineOnce.Do(func() {
		// -v: a passing simulation prints its counts only when verbose.
		cmd := exec.Command("go", "test", "-v", "-count=1", "-run", "^TestHarmSimulation$", ".",
			"-args", fmt.Sprintf("-sim.histories=%d", *mutantHistories))
		cmd.Dir = filepath.Join(root, "e2e")
		cmd.Env = append(os.Environ(), "MUTATE=0")
		out, _ := cmd.CombinedOutput()
		baselineCounts = harmCounts(string(out))
		t.Logf("unmutated code: %v", baselineCounts)
	})
	if len(baselineCounts) == 0 {
		// Without the unmutated counts nothing can be said of a mutant:
		// its failure could be anything but harm.
		t.Fatal("the unmutated simulation counted no harms (build error or timeout?)")
	}
	return baselineCounts
}

// harmLine matches a simulation's "harm NAME  COUNT (budget B)" line.
var harmLine = regexp.MustCompile(`: harm (.+?)\s+(\d+) \(budget \d+\)`)

// harmCounts parses a simulation's harm counts.
func harmCounts(out string) map[string]int {
	c := map[string]int{}
	for _, m := range harmLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		c[m[1]] = n
	}
	return c
}

// harmSummary is the harm and exception lines of a simulation's output.
func harmSummary(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": harm ") || strings.Contains(l, ": exception ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// moduleRoot is the repository's root: the parent of e2e, the test's
// working directory (e2e is a module of its own, with a replace of ../).
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(dir)
}

// copyTree copies the repository at src to dst, without .git.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
