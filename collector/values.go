package collector

import "time"

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is a Unix time in seconds with sub-second precision.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
