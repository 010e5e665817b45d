package walk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// parallelism is how many files a walk stats and sniffs at once. The work
// is system calls, which the kernel serves concurrently even on few cores.
var parallelism = 8

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
	// Unchanged, if set, reports whether the file at path with this size and
	// modification time was read before, so it is known not to be binary.
	// Walk then skips the binary sniff, which saves opening every file on a
	// re-ingest where little changed. Walk may call it from several
	// goroutines at once, but never while visit or skip runs.
	Unchanged func(path string, size int64, modTime time.Time) bool
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
	Path   string   // absolute path
	Kind   SkipKind // why, for callers that branch on it
	Reason string   // short lowercase reason for people, such as "binary file"
}

// SkipKind says why Walk left a file or folder out.
type SkipKind int

// The kinds of Skip.
const (
	SkipSecret     SkipKind = iota + 1 // looks like a secret (.env, a private key...)
	SkipTooLarge                       // over Options.MaxFileSize
	SkipSymlink                        // a symbolic link, never followed
	SkipBinary                         // binary content
	SkipNotRegular                     // a device, socket or pipe
	SkipPermission                     // could not be read: permission denied
	SkipUnreadable                     // could not be read: another error
)

// Unreadable reports whether the file or folder was left out because it
// could not be read this time, not for what it is: what it held may still
// be there.
func (k SkipKind) Unreadable() bool { return k == SkipPermission || k == SkipUnreadable }

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
// apply below it, and so do those of the folders above it up to the top of
// the git repository holding it (none outside a repository), so walking a
// subfolder leaves out what walking the repository does. A root that is a symbolic link is
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
		ctx:      ctx,
		opts:     opts,
		visit:    visit,
		skip:     skip,
		include:  newIncludeSet(opts.Include),
		seen:     make(map[string]struct{}),
		parallel: parallelism,
	}
	for _, root := range resolved {
		if err := w.walkRoot(root); err != nil {
			return err
		}
	}
	return nil
}

// IsBinary reports whether the first bytes of a file look binary: a NUL byte
// in the first 8 KiB, the test git and ripgrep use. Text in UTF-16 with a
// byte-order mark is not binary (extract decodes it); without one it counts
// as binary by this test.
func IsBinary(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}) {
		return false
	}
	if len(head) > sniffSize {
		head = head[:sniffSize]
	}
	return bytes.IndexByte(head, 0) >= 0
}

// documentExts are binary formats rag extracts text from, so the binary
// sniff must not leave them out.
var documentExts = map[string]bool{".pdf": true, ".docx": true, ".pptx": true, ".odt": true, ".epub": true, ".xlsx": true}

// walker holds the state of one Walk call.
type walker struct {
	ctx      context.Context
	opts     Options
	visit    func(Entry) error
	skip     func(Skip)
	include  *includeSet
	seen     map[string]struct{} // files visited or reported, across roots
	parallel int                 // how many files to check at once
	bufs     [][]byte            // sniff buffers, one per checking goroutine

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
			w.report(root, SkipPermission, "permission denied")
			return nil
		}
		return fmt.Errorf("stat root: %w", err)
	}
	w.root, w.rel, w.ignores = root, w.rel[:0], w.ignores[:0]
	switch {
	case info.IsDir():
		w.ignores = append(w.ignores, ancestorIgnores(root)...)
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
				w.report(root, SkipSecret, "secret file ("+rule+")")
				return nil
			}
		}
		if _, ok := w.seen[root]; ok {
			return nil
		}
		return w.act(w.checkFile(root, info, w.buffer(0)))
	default:
		w.report(root, SkipNotRegular, "not a regular file")
		return nil
	}
}

// action is what the walk does with one folder entry.
type action int

const (
	actNone   action = iota // leave out silently
	actReport               // leave out and tell skip why
	actCheck                // a regular file still to stat and sniff
	actVisit                // hand to visit
	actDir                  // walk into
)

// verdict is the decision about one folder entry.
type verdict struct {
	act       action
	abs       string
	kind      SkipKind    // for actReport
	reason    string      // for actReport
	info      fs.FileInfo // for actVisit
	secretDir string      // for actDir: rule making its files secrets
	hidden    bool        // for actDir: only Include matches are taken inside
}

// dir walks the folder at abs. secretDir is the rule that makes every file
// in it a secret, if any; inHidden is set below a hidden folder entered only
// because an Include pattern names a path through it, where only what Include
// matches is taken.
//
// It decides about the entries by name first, then stats and sniffs the
// candidate files in parallel (on a re-ingest that is most of the cost of a
// walk), and finally acts on the entries in order, so the output stays sorted.
func (w *walker) dir(abs, secretDir string, inHidden bool) error {
	entries, err := os.ReadDir(abs)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Removed while we walked: nothing to report.
		case errors.Is(err, fs.ErrPermission):
			w.report(abs, SkipPermission, "permission denied")
		default:
			w.report(abs, SkipUnreadable, "unreadable folder")
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
	verdicts := make([]verdict, len(entries))
	var todo []int
	for i, e := range entries {
		w.rel = append(w.rel, e.Name())
		verdicts[i] = w.decide(prefix+e.Name(), e, secretDir, inHidden)
		w.rel = w.rel[:len(w.rel)-1]
		if verdicts[i].act == actCheck {
			todo = append(todo, i)
		}
	}
	w.checkAll(verdicts, entries, todo)

	for i, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		v := verdicts[i]
		if v.act == actDir {
			w.rel = append(w.rel, e.Name())
			err := w.dir(v.abs, v.secretDir, v.hidden)
			w.rel = w.rel[:len(w.rel)-1]
			if err != nil {
				return err
			}
			continue
		}
		if err := w.act(v); err != nil {
			return err
		}
	}
	return nil
}

// decide judges a folder entry by its name and type; w.rel is its path below
// the root.
func (w *walker) decide(abs string, e os.DirEntry, secretDir string, inHidden bool) verdict {
	name, typ := e.Name(), e.Type()
	isDir := typ.IsDir()
	included := w.include.match(w.rel, isDir)
	if !included && matchStack(w.ignores, w.rel, isDir) {
		return verdict{act: actNone}
	}
	hidden := (inHidden || strings.HasPrefix(name, ".")) && !included
	switch {
	case isDir:
		if name == ".git" || name == "node_modules" {
			return verdict{act: actNone}
		}
		if hidden && !w.include.mayContain(w.rel) {
			return verdict{act: actNone}
		}
		if secretDir == "" {
			secretDir = secretDirRule(name)
		}
		return verdict{act: actDir, abs: abs, secretDir: secretDir, hidden: hidden}
	case hidden && !typ.IsRegular():
		return verdict{act: actNone}
	case typ&fs.ModeSymlink != 0:
		return verdict{act: actReport, abs: abs, kind: SkipSymlink, reason: "symbolic link"}
	case !typ.IsRegular():
		return verdict{act: actReport, abs: abs, kind: SkipNotRegular, reason: "not a regular file"}
	}
	if !included {
		rule := secretRule(name)
		if rule == "" {
			rule = secretDir
		}
		if rule != "" {
			return verdict{act: actReport, abs: abs, kind: SkipSecret, reason: "secret file (" + rule + ")"}
		}
		if hidden {
			return verdict{act: actNone}
		}
	}
	if _, ok := w.seen[abs]; ok {
		return verdict{act: actNone} // reached before through another root
	}
	return verdict{act: actCheck, abs: abs}
}

// checkAll runs checkEntry on the entries todo indexes, in parallel when
// there are several: stat and open cost a system call each, and the kernel
// serves them concurrently.
func (w *walker) checkAll(verdicts []verdict, entries []os.DirEntry, todo []int) {
	n := min(w.parallel, len(todo))
	if n <= 1 {
		for _, i := range todo {
			verdicts[i] = w.checkEntry(verdicts[i].abs, entries[i], w.buffer(0))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for k := range n {
		buf := w.buffer(k)
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= len(todo) || w.ctx.Err() != nil {
					return
				}
				i := todo[j]
				verdicts[i] = w.checkEntry(verdicts[i].abs, entries[i], buf)
			}
		})
	}
	wg.Wait()
}

// checkEntry stats a regular file found in a folder and checks it.
func (w *walker) checkEntry(abs string, e os.DirEntry, buf []byte) verdict {
	info, err := e.Info()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return verdict{act: actNone}
		}
		return verdict{act: actReport, abs: abs, kind: SkipUnreadable, reason: "unreadable file"}
	}
	return w.checkFile(abs, info, buf)
}

// checkFile applies the size and binary checks to a regular file, using buf
// for the sniff.
func (w *walker) checkFile(abs string, info fs.FileInfo, buf []byte) verdict {
	if limit := w.opts.MaxFileSize; limit > 0 && info.Size() > limit {
		return verdict{act: actReport, abs: abs, kind: SkipTooLarge, reason: "larger than " + formatSize(limit)}
	}
	if documentExts[strings.ToLower(filepath.Ext(abs))] ||
		(w.opts.Unchanged != nil && w.opts.Unchanged(abs, info.Size(), info.ModTime())) {
		return verdict{act: actVisit, abs: abs, info: info}
	}
	binary, err := sniff(abs, buf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return verdict{act: actNone}
	case errors.Is(err, fs.ErrPermission):
		return verdict{act: actReport, abs: abs, kind: SkipPermission, reason: "permission denied"}
	case err != nil:
		return verdict{act: actReport, abs: abs, kind: SkipUnreadable, reason: "unreadable file"}
	case binary:
		return verdict{act: actReport, abs: abs, kind: SkipBinary, reason: "binary file"}
	}
	return verdict{act: actVisit, abs: abs, info: info}
}

// act carries out a verdict on a file.
func (w *walker) act(v verdict) error {
	switch v.act {
	case actReport:
		w.report(v.abs, v.kind, v.reason)
	case actVisit:
		if _, ok := w.seen[v.abs]; ok {
			return nil
		}
		w.seen[v.abs] = struct{}{}
		return w.visit(Entry{Path: v.abs, Root: w.root, Size: v.info.Size(), ModTime: v.info.ModTime()})
	}
	return nil
}

// buffer returns the k-th sniff buffer, reused across folders.
func (w *walker) buffer(k int) []byte {
	for len(w.bufs) <= k {
		w.bufs = append(w.bufs, make([]byte, sniffSize))
	}
	return w.bufs[k]
}

// report passes a left-out file to skip, once per path.
func (w *walker) report(abs string, kind SkipKind, reason string) {
	if _, ok := w.seen[abs]; ok {
		return
	}
	w.seen[abs] = struct{}{}
	w.skip(Skip{Path: abs, Kind: kind, Reason: reason})
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
