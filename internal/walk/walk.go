package walk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// sniffSize is how much of a file IsBinary looks at, as git and ripgrep do.
const sniffSize = 8 << 10

// Options tune what Walk leaves out.
type Options struct {
	// Include holds gitignore-style patterns, matched relative to the root
	// being walked, for files the user explicitly wants. A matching file is
	// read even if it is hidden, a secret or excluded by an ignore file, and
	// a hidden folder is entered if a pattern matches it or names a path
	// through it (".github/workflows/*.yml"). Symbolic links, .git and
	// node_modules folders, binary and oversized files stay out regardless.
	Include []string
	// MaxFileSize is the largest file, in bytes, Walk hands to visit; larger
	// files are reported as skipped. Zero means no limit.
	MaxFileSize int64
}

// Entry is a file Walk found to read.
type Entry struct {
	// Path is the absolute, cleaned path of a regular file. Roots are
	// resolved through symbolic links first, so Path names the real file.
	Path string
	// Root is the absolute, resolved root the file was found under; for a
	// root that is a single file it is Path itself.
	Root    string
	Size    int64
	ModTime time.Time
}

// Skip is a file Walk left out for a reason a user would want to know.
type Skip struct {
	Path   string // absolute path
	Reason string // short lowercase reason, such as "binary file"
}

// Walk visits every file under roots (each a folder or a single file) in a
// stable, sorted order: roots in the order given, then each folder's entries
// by name, depth first.
//
// visit is called for each file to read; skip, which may be nil, is called
// for every file left out for a reason a user would want to know: secrets,
// files over opts.MaxFileSize, symbolic links, binary files, non-regular files
// and unreadable files or folders. Files excluded by ignore files or because
// they are hidden are not reported, as ripgrep does not report them; a file
// both ignored and a secret counts as ignored. A file reached through two
// overlapping roots is visited or reported once.
//
// A root is always walked, even when hidden or ignored; its own ignore files
// apply below it, but none from above it. A root that is a symbolic link is
// resolved first, and a root that is a single file is still checked for
// secrets, size and binary content.
//
// Walk stops at the first error visit returns and returns it unchanged, and
// returns ctx.Err() once ctx is done. A root that does not exist is an error
// wrapping fs.ErrNotExist, found before any file is visited.
func Walk(ctx context.Context, roots []string, opts Options, visit func(Entry) error, skip func(Skip)) error {
	if skip == nil {
		skip = func(Skip) {}
	}
	resolved := make([]string, 0, len(roots))
	dup := make(map[string]bool, len(roots))
	for _, root := range roots {
		abs, err := filepath.Abs(root)
		if err != nil {
			return fmt.Errorf("resolve root %s: %w", root, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("resolve root: %w", err)
		}
		if !dup[real] {
			dup[real] = true
			resolved = append(resolved, real)
		}
	}
	w := &walker{
		ctx:     ctx,
		opts:    opts,
		visit:   visit,
		skip:    skip,
		include: newIncludeSet(opts.Include),
		seen:    make(map[string]struct{}),
		buf:     make([]byte, sniffSize),
	}
	for _, root := range resolved {
		if err := w.walkRoot(root); err != nil {
			return err
		}
	}
	return nil
}

// IsBinary reports whether the first bytes of a file look binary: a NUL byte
// in the first 8 KiB, the test git and ripgrep use. Text in UTF-16 counts as
// binary by this test.
func IsBinary(head []byte) bool {
	if len(head) > sniffSize {
		head = head[:sniffSize]
	}
	return bytes.IndexByte(head, 0) >= 0
}

// documentExts are binary formats rag extracts text from, so the binary
// sniff must not leave them out.
var documentExts = map[string]bool{".pdf": true, ".docx": true}

// walker holds the state of one Walk call.
type walker struct {
	ctx     context.Context
	opts    Options
	visit   func(Entry) error
	skip    func(Skip)
	include *includeSet
	seen    map[string]struct{} // files visited or reported, across roots
	buf     []byte              // sniff buffer, reused

	root    string              // root being walked
	rel     []string            // path of the current entry, relative to root
	ignores []gitignore.Pattern // patterns of the ignore files above the entry
}

func (w *walker) walkRoot(root string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	info, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			w.report(root, "permission denied")
			return nil
		}
		return fmt.Errorf("stat root: %w", err)
	}
	w.root, w.rel, w.ignores = root, w.rel[:0], w.ignores[:0]
	switch {
	case info.IsDir():
		return w.dir(root, secretAncestorRule(root), false)
	case info.Mode().IsRegular():
		name := filepath.Base(root)
		w.rel = append(w.rel, name)
		if !w.include.match(w.rel, false) {
			rule := secretRule(name)
			if rule == "" {
				rule = secretAncestorRule(filepath.Dir(root))
			}
			if rule != "" {
				w.report(root, "secret file ("+rule+")")
				return nil
			}
		}
		return w.file(root, info)
	default:
		w.report(root, "not a regular file")
		return nil
	}
}

// dir walks the folder at abs. secretDir is the rule that makes every file
// in it a secret, if any; inHidden is set below a hidden folder entered only
// because an Include pattern names a path through it, where only what Include
// matches is taken.
func (w *walker) dir(abs, secretDir string, inHidden bool) error {
	entries, err := os.ReadDir(abs)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Removed while we walked: nothing to report.
		case errors.Is(err, fs.ErrPermission):
			w.report(abs, "permission denied")
		default:
			w.report(abs, "unreadable folder")
		}
		return nil
	}
	mark := len(w.ignores)
	w.ignores = append(w.ignores, readIgnores(abs, entries, w.rel)...)
	defer func() { w.ignores = w.ignores[:mark] }()

	prefix := abs
	if !strings.HasSuffix(prefix, string(os.PathSeparator)) {
		prefix += string(os.PathSeparator)
	}
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		w.rel = append(w.rel, e.Name())
		err := w.entry(prefix+e.Name(), e, secretDir, inHidden)
		w.rel = w.rel[:len(w.rel)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

// entry decides about one folder entry; w.rel is its path below the root.
func (w *walker) entry(abs string, e os.DirEntry, secretDir string, inHidden bool) error {
	name, typ := e.Name(), e.Type()
	isDir := typ.IsDir()
	included := w.include.match(w.rel, isDir)
	if !included && matchStack(w.ignores, w.rel, isDir) {
		return nil
	}
	hidden := (inHidden || strings.HasPrefix(name, ".")) && !included
	switch {
	case isDir:
		if name == ".git" || name == "node_modules" {
			return nil
		}
		if hidden && !w.include.mayContain(w.rel) {
			return nil
		}
		if secretDir == "" {
			secretDir = secretDirRule(name)
		}
		return w.dir(abs, secretDir, hidden)
	case hidden && !typ.IsRegular():
		return nil
	case typ&fs.ModeSymlink != 0:
		w.report(abs, "symbolic link")
		return nil
	case !typ.IsRegular():
		w.report(abs, "not a regular file")
		return nil
	}
	if !included {
		rule := secretRule(name)
		if rule == "" {
			rule = secretDir
		}
		if rule != "" {
			w.report(abs, "secret file ("+rule+")")
			return nil
		}
		if hidden {
			return nil
		}
	}
	info, err := e.Info()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.report(abs, "unreadable file")
		}
		return nil
	}
	return w.file(abs, info)
}

// file applies the size and binary checks to a regular file and visits it.
func (w *walker) file(abs string, info fs.FileInfo) error {
	if _, ok := w.seen[abs]; ok {
		return nil
	}
	if limit := w.opts.MaxFileSize; limit > 0 && info.Size() > limit {
		w.report(abs, "larger than "+formatSize(limit))
		return nil
	}
	if !documentExts[strings.ToLower(filepath.Ext(abs))] {
		binary, err := w.sniff(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case errors.Is(err, fs.ErrPermission):
			w.report(abs, "permission denied")
			return nil
		case err != nil:
			w.report(abs, "unreadable file")
			return nil
		case binary:
			w.report(abs, "binary file")
			return nil
		}
	}
	w.seen[abs] = struct{}{}
	return w.visit(Entry{Path: abs, Root: w.root, Size: info.Size(), ModTime: info.ModTime()})
}

// sniff reads at most the first 8 KiB of the file at abs and reports whether
// they look binary.
func (w *walker) sniff(abs string) (bool, error) {
	f, err := os.Open(abs)
	if err != nil {
		return false, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, w.buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, err
	}
	return IsBinary(w.buf[:n]), nil
}

// report passes a left-out file to skip, once per path.
func (w *walker) report(abs, reason string) {
	if _, ok := w.seen[abs]; ok {
		return
	}
	w.seen[abs] = struct{}{}
	w.skip(Skip{Path: abs, Reason: reason})
}

// formatSize writes a byte count the way a user set it: "10 MiB", "1.5 MiB",
// "512 KiB" or "100 bytes".
func formatSize(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib && n%kib == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	case n >= kib:
		return fmt.Sprintf("%.1f KiB", float64(n)/kib)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
