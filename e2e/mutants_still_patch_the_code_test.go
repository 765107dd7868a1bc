package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMutantsStillPatchTheCode: every deliberate bug of the mutants table
// still finds the one line it changes. make mutate alone runs the mutants
// (minutes); this runs in make test, so a refactor that moves a line the
// table patches fails at once instead of leaving make mutate stale.
func TestMutantsStillPatchTheCode(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, m := range mutants {
		src, err := os.ReadFile(filepath.Join(root, m.file))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(src), m.old); n != 1 {
			t.Errorf("mutant %q is stale: %q occurs %d times in %s, want once", m.name, m.old, n, m.file)
		}
	}
}
