//go:build unix

package walk

import (
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func TestWalkFIFO(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"a.txt": "a"})
	for _, name := range []string{"pipe", ".hidden-pipe"} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	got := run(t, dir, []string{"."}, Options{})
	if want := []string{"a.txt"}; !reflect.DeepEqual(got.visited, want) {
		t.Errorf("visited %q, want %q", got.visited, want)
	}
	if want := map[string]string{"pipe": "not a regular file"}; !reflect.DeepEqual(got.skipped, want) {
		t.Errorf("skipped %q, want %q", got.skipped, want)
	}
}
