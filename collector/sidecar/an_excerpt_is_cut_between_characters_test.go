package sidecar

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// TestAnExcerptIsCutBetweenCharacters: an error page in a language written
// with multi-byte characters is cut short for the log and the pages at a
// character's start, so that neither shows invalid UTF-8.
func TestAnExcerptIsCutBetweenCharacters(t *testing.T) {
	t.Parallel()
	for pad := range 4 {
		s := excerpt([]byte(strings.Repeat("x", pad)+strings.Repeat("é€😀", 40)), nil)
		assert.True(t, utf8.ValidString(s), "pad %d: %q", pad, s)
	}
}
