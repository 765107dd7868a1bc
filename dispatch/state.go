package dispatch

// State is a verdict in one word, as smithy's banner showed it.
type State string

// The states, from most to least urgent. Wedged wins over everything: when a
// loop is both wedged and stuck, only the wedge pages.
const (
	// StateWedged: the loop is stale (smithy's red banner).
	StateWedged State = "wedged"
	// StateDown: the daemon's status could not be read (sidecar only), and
	// nothing read shows a hung loop.
	StateDown State = "down"
	// StateStuck: ready tasks wait and no worker can take them (amber).
	StateStuck State = "stuck"
	// StateStopped: the loop is stopped on purpose.
	StateStopped State = "stopped"
	// StateUnknown: nothing is known yet (not read since the exporter
	// started), or the answer held no health.
	StateUnknown State = "unknown"
	// StateHealthy: none of the above.
	StateHealthy State = "healthy"
)
