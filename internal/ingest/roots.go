package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// ErrNoRoots: an ingest without paths, into an index that records no roots.
var ErrNoRoots = errors.New("the index records no folders to refresh")

// root is one root of a run as found on disk.
type root struct {
	path    string // absolute; resolved through symbolic links when it exists
	missing bool
	isDir   bool
	dev     uint64
}

// KeptRoot is a root under which the walk no longer found indexed files and
// whose files the run kept anyway, because the root looked unmounted,
// replaced or emptied rather than edited. Options.Prune removes them.
type KeptRoot struct {
	Root   string `json:"root"`
	Reason string `json:"reason"`
	Files  int    `json:"files"` // indexed under the root
	Gone   int    `json:"gone"`  // of those, not found this time and kept
}

// resolveRoots makes each root absolute with symlinks resolved, as the walk
// reports paths, and stats it. A root that does not exist is kept, marked
// missing: what the index holds under it is judged, not removed blindly.
func resolveRoots(paths []string, stat func(string) (fs.FileInfo, error)) ([]root, error) {
	var out []root
	seen := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", p, err)
		}
		rt := root{path: abs}
		real, err := filepath.EvalSymlinks(abs)
		switch {
		case absent(err):
			rt.missing = true
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", p, err)
		default:
			rt.path = real
			fi, err := stat(real)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			rt.isDir, rt.dev = fi.IsDir(), deviceOf(fi)
		}
		if !seen[rt.path] {
			seen[rt.path] = true
			out = append(out, rt)
		}
	}
	return out, nil
}

// absent reports whether err, from a stat or EvalSymlinks of a root, means
// the root is not on this machine: it does not exist, or its path runs
// through a file. Ingest keeps such a root's files; reindex carries them.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR)
}

// judge says why the indexed files under rt that the walk did not find must
// be kept, or "" when their removal is an ordinary deletion. found is how
// many files the walk handed over under rt.
func judge(rt root, rec index.Root, recorded bool, indexed, gone, found int) string {
	if gone == 0 {
		return ""
	}
	switch {
	case rt.missing:
		return "it no longer exists (unmounted, renamed or deleted?)"
	case recorded && rec.IsDir && !rt.isDir:
		return "it is no longer a folder"
	case recorded && rec.Dev != 0 && rt.dev != 0 && rec.Dev != rt.dev:
		return fmt.Sprintf("it lies on another file system than when it was indexed (device %d, was %d): unmounted or replaced?", rt.dev, rec.Dev)
	case rt.isDir && found == 0:
		return "it is empty (unmounted?)"
	case gone*2 > indexed:
		return fmt.Sprintf("%d of its %d indexed files are gone at once", gone, indexed)
	}
	return ""
}

func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if under(path, r) {
			return true
		}
	}
	return false
}

// under reports whether path is root or inside it.
func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}

// ForgetOptions configure Forget.
type ForgetOptions struct {
	IndexDir string
	// Store, when set, is where the index lives; nil means the local index
	// in IndexDir.
	Store store.Store
	// Paths are roots, folders or files to take out of the index.
	Paths    []string
	LockWait time.Duration
}

// ForgetReport is what Forget removed.
type ForgetReport struct {
	Index string   `json:"index"`
	Files []string `json:"files"` // indexed files removed
	Roots []string `json:"roots"` // recorded roots no longer refreshed
}

// NotIndexedError names paths under which the index holds nothing.
type NotIndexedError struct{ Paths []string }

func (e *NotIndexedError) Error() string {
	return "not in the index: " + strings.Join(e.Paths, ", ")
}

// Forget removes from the index every file at or under each path, and the
// recorded roots there, whether or not they still exist on disk: the way to
// remove on purpose what ingest refuses to remove on its own. A path under
// which the index holds nothing fails the call before anything is removed.
// Files that still exist under a root that stays recorded come back with the
// next ingest of that root.
func Forget(ctx context.Context, opts ForgetOptions) (*ForgetReport, error) {
	if len(opts.Paths) == 0 {
		return nil, errors.New("forget: no paths given")
	}
	st := Options{IndexDir: opts.IndexDir, Store: opts.Store}.store()
	if l, ok := st.(*local.Store); ok {
		if _, err := os.Stat(index.DBPath(l.Dir)); errors.Is(err, fs.ErrNotExist) {
			return nil, index.ErrNoIndex // and no lock file left behind
		}
	}
	w, err := st.OpenWriter(ctx, index.Settings{}, opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if w.Fresh() {
		return nil, index.ErrNoIndex
	}
	rep := &ForgetReport{Index: st.Location(), Files: []string{}, Roots: []string{}}
	b := &index.Batch{}
	var unknown []string
	for _, p := range opts.Paths {
		forms, err := pathForms(p)
		if err != nil {
			return nil, err
		}
		n := 0
		for f := range w.Files() {
			if underAny(f, forms) {
				b.Deletes = append(b.Deletes, f)
				n++
			}
		}
		for r := range w.Roots() {
			if underAny(r, forms) {
				b.ForgetRoots = append(b.ForgetRoots, r)
				n++
			}
		}
		if n == 0 {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		return nil, &NotIndexedError{Paths: unknown}
	}
	b.Deletes, b.ForgetRoots = dedupe(b.Deletes), dedupe(b.ForgetRoots)
	if err := w.Commit(ctx, b); err != nil {
		return nil, err
	}
	rep.Files, rep.Roots = append(rep.Files, b.Deletes...), append(rep.Roots, b.ForgetRoots...)
	return rep, nil
}

// pathForms is a path as the index may hold it: absolute, and resolved
// through symbolic links when it still exists.
func pathForms(p string) ([]string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", p, err)
	}
	forms := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		forms = append(forms, real)
	}
	return forms, nil
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
