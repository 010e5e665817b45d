//go:build !linux

package sandbox

// limitAddressSpace does nothing outside Linux: macOS does not enforce
// RLIMIT_AS and Windows has no rlimits, so there the memory limit is only the
// Go runtime's soft limit.
func limitAddressSpace(n int64) error { return nil }
