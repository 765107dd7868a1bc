//go:build !unix

package server

// openFileLimit is unknown off Unix: 0, and --web.max-connections stands.
func openFileLimit() uint64 { return 0 }
