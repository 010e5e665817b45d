// Package shareddata finds the data sets the project keeps outside its
// repository, in ../shared/data beside the module, for tests and benchmarks.
// They are never copied into the repository: where they are absent, a test
// that needs them is skipped.
package shareddata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns ../shared/data/NAME beside the module root, or skips tb when it
// is not there. RAG_SHARED_DATA names another data folder, for a checkout
// that does not sit beside the data (a git worktree elsewhere).
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	if root := os.Getenv("RAG_SHARED_DATA"); root != "" {
		p := filepath.Join(root, name)
		if _, err := os.Stat(p); err != nil {
			tb.Skipf("shared data set %s is not here (%v)", name, err)
		}
		return p
	}
	dir, err := ModuleRoot()
	if err != nil {
		tb.Skip(err)
	}
	p := filepath.Join(dir, "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s is not here (%v)", name, err)
	}
	return p
}

// ModuleRoot is the folder of the go.mod above the working directory (a
// test runs in its package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found: no go.mod above the working directory")
		}
		dir = parent
	}
}
