package server

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// computedDefaults are the flags kingpin holds no default for because the
// program works it out at start-up; the README names what it works out.
var computedDefaults = map[string]string{
	"watchdog.stack-dump-dir": "$TMPDIR/dispatch-stacks-UID",
}

// TestREADMEListsEveryFlagWithItsDefault: the README's "Flags and
// endpoints" table has a row for every flag the exporter parses and none
// for a flag it does not, each with the default kingpin applies (a bool
// flag on by default reads "on").
func TestREADMEListsEveryFlagWithItsDefault(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(readme), "\n## Flags and endpoints\n")
	require.True(t, ok, "README has a Flags and endpoints section")
	table, _, _ = strings.Cut(table, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9.-]+)` \\|([^|]*)\\|")
	first := regexp.MustCompile("`([^`]*)`")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		def := ""
		if d := first.FindStringSubmatch(m[2]); d != nil {
			def = d[1]
		} else if strings.TrimSpace(m[2]) != "" {
			def = strings.TrimSpace(m[2])
		}
		_, dup := documented[m[1]]
		assert.False(t, dup, "--%s has one row", m[1])
		documented[m[1]] = def
	}
	require.NotEmpty(t, documented, "the table's rows were read")

	parsed := map[string]bool{}
	for _, fl := range newFlags(io.Discard, io.Discard).app.Model().Flags {
		if fl.Hidden || fl.Name == "help" {
			continue
		}
		parsed[fl.Name] = true
		want := strings.Join(fl.Default, ",")
		if fl.IsBoolFlag() && want == "true" {
			want = "on"
		}
		if c, ok := computedDefaults[fl.Name]; ok {
			require.Empty(t, want, "--%s has a default of its own now", fl.Name)
			want = c
		}
		got, ok := documented[fl.Name]
		if assert.True(t, ok, "README lists --%s", fl.Name) {
			assert.Equal(t, want, got, "README's default of --%s", fl.Name)
		}
	}
	for name := range documented {
		assert.True(t, parsed[name], "README lists --%s, which the exporter does not parse", name)
	}
}
