//go:build unix

package ingest_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollamatest"
)

// otherDevice is a FileInfo that claims another file system.
type otherDevice struct {
	fs.FileInfo
	st syscall.Stat_t
}

func (o otherDevice) Sys() any { return &o.st }

// TestChangedDeviceKeepsFiles: where the test cannot mount, a root whose
// device id changed (an unmounted disk's mount point) is simulated through
// the run's stat: its missing files are kept until --prune.
func TestChangedDeviceKeepsFiles(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	for i := range 3 {
		e.write(t, fmt.Sprintf("f%d.md", i), []byte(fmt.Sprintf("File %d is about topic%d.\n", i, i)))
	}
	e.run(t, t.Context(), e.options(opener(fake.URL)))
	for i := range 2 {
		os.Remove(e.path(fmt.Sprintf("f%d.md", i)))
	}
	// 2 of 3 gone is more than half anyway; take one more healthy file so
	// that only the device rule can keep them.
	for i := 3; i < 6; i++ {
		e.write(t, fmt.Sprintf("f%d.md", i), []byte(fmt.Sprintf("File %d is about topic%d.\n", i, i)))
	}
	moved := func(p string) (fs.FileInfo, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			t.Skip("no device ids on this platform")
		}
		o := otherDevice{FileInfo: fi, st: *st}
		o.st.Dev++
		return o, nil
	}
	opts := e.options(opener(fake.URL))
	ingest.SetStat(&opts, moved)
	rep := e.run(t, context.Background(), opts)
	if rep.Removed != 0 || len(rep.KeptRoots) != 1 || rep.KeptRoots[0].Gone != 2 || rep.Added != 3 {
		t.Fatalf("report %+v kept %+v, want 3 added, 2 kept, 0 removed", countsOf(rep), rep.KeptRoots)
	}
	if s := read(t, e.idx); s.stats.Files != 6 {
		t.Errorf("index holds %d files, want 6", s.stats.Files)
	}
	opts.Prune = true
	rep = e.run(t, context.Background(), opts)
	if rep.Removed != 2 || len(rep.KeptRoots) != 0 {
		t.Fatalf("with Prune: %+v kept %+v", countsOf(rep), rep.KeptRoots)
	}
	// Pruning recorded the new device: the next run with it is calm.
	os.Remove(e.path("f3.md"))
	opts.Prune = false
	rep = e.run(t, context.Background(), opts)
	if rep.Removed != 1 || len(rep.KeptRoots) != 0 {
		t.Errorf("after prune: %+v kept %+v", countsOf(rep), rep.KeptRoots)
	}
	check(t, e.idx)
}

// TestRootsAwayAsIngestJudges: reindex takes a recorded root for another
// machine's exactly when ingest would call it missing: it does not exist,
// or its path runs through a file. A root that is here, even an empty one,
// is not away.
func TestRootsAwayAsIngestJudges(t *testing.T) {
	dir := t.TempDir()
	here := filepath.Join(dir, "here")
	file := filepath.Join(dir, "file.md")
	if err := os.Mkdir(here, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("# x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := map[string]index.Root{}
	for _, p := range []string{here, file, filepath.Join(dir, "gone"), filepath.Join(file, "sub")} {
		roots[p] = index.Root{Path: p}
	}
	got := ingest.RootsAway(roots)
	sort.Strings(got)
	want := []string{filepath.Join(file, "sub"), filepath.Join(dir, "gone")}
	if !slices.Equal(got, want) {
		t.Fatalf("away = %q, want %q", got, want)
	}
}
