//go:build race

package extract

// raceEnabled: the race detector's shadow memory does not fit under the
// sandbox's RLIMIT_AS.
const raceEnabled = true
