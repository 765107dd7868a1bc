package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestASecretHoldingAnotherIsScrubbedWhole: a URL's user name is listed
// before its password, and a password may hold the user name; replaced in
// list order, the name would leave the rest of the password shown.
func TestASecretHoldingAnotherIsScrubbedWhole(t *testing.T) {
	t.Parallel()
	secrets := URLSecrets("http://ops:opsecret123@smithy:3457/api/daemon/status")
	assert.Equal(t, "denied xxxxx:xxxxx", Scrub("denied ops:opsecret123", secrets))
}
