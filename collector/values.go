package collector

import "time"

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is a Unix time in seconds with sub-second precision, summed
// so that a millisecond timestamp prints as one (…854.27, not …854.2700002).
func unixSeconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }
