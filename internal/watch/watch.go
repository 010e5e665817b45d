// Package watch keeps an index current as files change: it watches folders
// with fsnotify, gathers a burst of events (an editor's atomic save, a git
// checkout, a copy of 500 files) into one quiet moment, and then asks its
// caller to ingest the watched roots, which goes through ingest.Run with its
// lock and rules. When the OS will not watch more folders (inotify's
// max_user_watches), it falls back to rescanning on a timer, and says so.
// It does not read, index or print anything itself.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults of Options.
const (
	DefaultDebounce = 300 * time.Millisecond
	DefaultMaxDelay = 3 * time.Second
	DefaultRescan   = 30 * time.Second
)

// Options configure a watch.
type Options struct {
	Roots []string
	// Ingest brings the index up to date with Roots. An error other than
	// the context's ends nothing: it is reported and the next change tries
	// again.
	Ingest func(ctx context.Context) error
	// Notify tells the user what the watch does: the fallback to rescans, an
	// ingest that failed.
	Notify func(msg string)
	// Debounce is the quiet time after the last event before an ingest;
	// MaxDelay bounds the wait while events keep coming.
	Debounce, MaxDelay time.Duration
	// Rescan is the period of the rescans when the folders cannot be
	// watched.
	Rescan time.Duration

	add func(w *fsnotify.Watcher, dir string) error // for tests: Watcher.Add
}

// ErrWatchLimit: the OS will not watch more folders.
var ErrWatchLimit = errors.New("the system's limit of watched folders is reached")

// Run ingests once, then after every burst of changes under Roots, until
// ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Rescan <= 0 {
		o.Rescan = DefaultRescan
	}
	if o.add == nil {
		o.add = func(w *fsnotify.Watcher, dir string) error { return w.Add(dir) }
	}
	if o.Notify == nil {
		o.Notify = func(string) {}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		if !isLimit(err) {
			return fmt.Errorf("watch: %w", err)
		}
		w = nil
	}
	wt := &watcher{o: o, w: w}
	defer wt.close()
	if w != nil {
		for _, r := range o.Roots {
			if err := wt.addTree(r); err != nil {
				if !errors.Is(err, ErrWatchLimit) {
					return err
				}
				wt.fallBack()
				break
			}
		}
	} else {
		wt.fallBack()
	}
	return wt.loop(ctx)
}

type watcher struct {
	o      Options
	w      *fsnotify.Watcher // nil once fallen back to rescans
	rescan *time.Ticker
}

func (wt *watcher) close() {
	if wt.w != nil {
		wt.w.Close()
	}
	if wt.rescan != nil {
		wt.rescan.Stop()
	}
}

// fallBack stops watching and rescans on a timer instead.
func (wt *watcher) fallBack() {
	if wt.w != nil {
		wt.w.Close()
		wt.w = nil
	}
	if wt.rescan == nil {
		wt.rescan = time.NewTicker(wt.o.Rescan)
		wt.o.Notify(fmt.Sprintf("%v (fs.inotify.max_user_watches); rescanning every %s instead of watching; to watch, raise it: sudo sysctl fs.inotify.max_user_watches=524288", ErrWatchLimit, wt.o.Rescan))
	}
}

// skipDir is the folders no ingest reads (hidden ones, node_modules), so
// not worth one of the OS's watches.
func skipDir(name string) bool {
	return name != "." && strings.HasPrefix(name, ".") || name == "node_modules"
}

// addTree watches dir and every folder below it; a root that is a file is
// watched through its folder.
func (wt *watcher) addTree(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	if !fi.IsDir() {
		return wt.add(filepath.Dir(root))
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone or unreadable meanwhile: the ingest reports it
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		return wt.add(p)
	})
}

func (wt *watcher) add(dir string) error {
	err := wt.o.add(wt.w, dir)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil
	case isLimit(err):
		return ErrWatchLimit
	}
	return fmt.Errorf("watch %s: %w", dir, err)
}

// isLimit reports the errors of a full watch table: ENOSPC from
// inotify_add_watch, EMFILE from inotify_init.
func isLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE)
}

// relevant reports whether an event can change what an ingest finds.
func (wt *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	for _, r := range wt.o.Roots {
		if ev.Name == r || strings.HasPrefix(ev.Name, strings.TrimSuffix(r, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (wt *watcher) loop(ctx context.Context) error {
	// The first ingest brings the index up to date with what changed while
	// nobody watched.
	if err := wt.ingest(ctx); err != nil {
		return err
	}
	var (
		quiet, limit *time.Timer
		fire, limitc <-chan time.Time
	)
	pending := false
	arm := func() {
		if !pending {
			pending = true
			limit = time.NewTimer(wt.o.MaxDelay)
			limitc = limit.C
		}
		if quiet == nil {
			quiet = time.NewTimer(wt.o.Debounce)
		} else {
			quiet.Reset(wt.o.Debounce)
		}
		fire = quiet.C
	}
	// run ingests what the burst changed; events during it arm the next one.
	run := func() error {
		limit.Stop()
		quiet.Stop()
		fire, limitc, pending = nil, nil, false
		return wt.ingest(ctx)
	}
	for {
		var events <-chan fsnotify.Event
		var errs <-chan error
		if wt.w != nil {
			events, errs = wt.w.Events, wt.w.Errors
		}
		var tick <-chan time.Time
		if wt.rescan != nil {
			tick = wt.rescan.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() && !skipDir(filepath.Base(ev.Name)) {
					// A new folder: watch it, and what it already holds
					// (a folder moved in, or created with files at once).
					if err := wt.addTree(ev.Name); errors.Is(err, ErrWatchLimit) {
						wt.fallBack()
					}
				}
			}
			if wt.relevant(ev) {
				arm()
			}
		case err, ok := <-errs:
			if !ok {
				continue
			}
			// A full event queue lost events: ingest to catch up.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				arm()
			} else {
				wt.o.Notify("watch: " + err.Error())
			}
		case <-tick:
			arm()
		case <-fire:
			if err := run(); err != nil {
				return err
			}
		case <-limitc:
			if err := run(); err != nil {
				return err
			}
		}
	}
}

// ingest runs one ingest; only the context's end stops the watch.
func (wt *watcher) ingest(ctx context.Context) error {
	err := wt.o.Ingest(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		wt.o.Notify("ingest: " + err.Error())
	}
	return nil
}
