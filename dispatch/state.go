package dispatch

// State is a verdict in one word, as smithy's banner showed it.
type State string

// The states, from most to least urgent. Wedged wins over everything: when a
// loop is both wedged and stuck, only the wedge pages.
const (
	// StateWedged: the loop is stale (smithy's red banner).
	StateWedged State = "wedged"
	// StateDown: the daemon's status could not be read (sidecar only).
	StateDown State = "down"
	// StateStuck: ready tasks wait and no worker can take them (amber).
	StateStuck State = "stuck"
	// StateStopped: the loop is stopped on purpose.
	StateStopped State = "stopped"
	// StateUnknown: the daemon answered but reported no health.
	StateUnknown State = "unknown"
	// StateHealthy: none of the above.
	StateHealthy State = "healthy"
)

// State names the verdict for a source whose status could (up) or could not
// be read. A loop judged stale stays wedged even while its status cannot be
// read: a daemon whose whole HTTP server hangs is wedged, not merely down.
func (v Verdict) State(up bool) State {
	switch {
	case v.Stale:
		return StateWedged
	case !up:
		return StateDown
	case v.Stuck:
		return StateStuck
	case !v.Judged:
		return StateUnknown
	case !v.Running:
		return StateStopped
	default:
		return StateHealthy
	}
}
