//go:build race

package sandbox

// raceEnabled: the race detector reserves terabytes of address space, so a
// race-enabled child cannot run under RLIMIT_AS.
const raceEnabled = true
