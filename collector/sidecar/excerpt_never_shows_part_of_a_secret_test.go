package sidecar

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An excerpt is cut short after it is scrubbed: a secret that straddles
// the cut, or the end of the window the excerpt is read from, shows not
// even in part.
func TestExcerptNeverShowsPartOfASecret(t *testing.T) {
	t.Parallel()
	const token = "t0kenAAAABBBBCCCCDDDDEEEEFFFFGGGG"
	secrets := []string{token}
	for name, body := range map[string]string{
		"straddling the cut":            strings.Repeat("a", 100) + " Bearer " + token + " and more",
		"straddling the window's end":   strings.Repeat(" ", excerptWindow-10) + token,
		"whitespace inside, collapsed ": "echo:\n  Authorization:   Bearer\t" + token,
	} {
		got := excerpt([]byte(body), secrets)
		require.NotEmpty(t, got, name)
		assert.NotContains(t, got, token[:5], "%s: %q", name, got)
	}
	assert.Equal(t, "echo: Authorization: Bearer xxxxx", excerpt([]byte("echo:\n Authorization: Bearer "+token+"\n"), secrets))
}
