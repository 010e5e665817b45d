// Package shareddata finds the data sets the project keeps outside its
// repository, in ../shared/data beside the module, for tests and benchmarks.
// They are never copied into the repository: where they are absent, a test
// that needs them is skipped.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns ../shared/data/NAME beside the module root, or skips tb when it
// is not there.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s is not here (%v)", name, err)
	}
	return p
}
