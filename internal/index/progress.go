package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ProgressFile is where a running ingest says how far it has got, for
// readers; it is removed when the ingest ends, and ignored when the ingest
// that wrote it died (its lock is free).
const ProgressFile = "ingest.progress"

// Progress is how far a running ingest has got.
type Progress struct {
	PID            int       `json:"pid"`
	Started        time.Time `json:"started"`
	Updated        time.Time `json:"updated"`
	FilesDone      int       `json:"files_done"`
	FilesTotal     int       `json:"files_total"` // files that need reading; 0 while scanning
	ChunksEmbedded int       `json:"chunks_embedded"`
	// First says the index had nothing committed when this ingest began.
	First bool `json:"first"`
}

// String says it in a few words: "12 of 300 files read, 45 chunks embedded, for 8s".
func (p Progress) String() string {
	files := "scanning"
	if p.FilesTotal > 0 {
		files = fmt.Sprintf("%d of %d files read", p.FilesDone, p.FilesTotal)
	}
	return fmt.Sprintf("%s, %d chunks embedded, for %s", files, p.ChunksEmbedded, time.Since(p.Started).Round(time.Second))
}

// BuildingError is what readers get from a folder whose first ingest is
// still running and has committed nothing yet. It is an ErrNoIndex.
type BuildingError struct {
	Dir      string
	Progress Progress
}

func (e *BuildingError) Error() string {
	return fmt.Sprintf("the first ingest into %s is still running (%s) and has not committed anything yet", e.Dir, e.Progress)
}

// Is makes a BuildingError an ErrNoIndex.
func (e *BuildingError) Is(target error) bool { return target == ErrNoIndex }

// WriteProgress replaces the progress file of the index in dir; the writer
// calls it while it holds the lock. A failure is not worth stopping an
// ingest for, so callers may ignore it.
func (w *Writer) WriteProgress(p Progress) error {
	p.PID, p.Updated = os.Getpid(), time.Now().UTC()
	p.First = w.first
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.dir, ProgressFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(w.dir, ProgressFile))
}

func (w *Writer) removeProgress() {
	os.Remove(filepath.Join(w.dir, ProgressFile))
	os.Remove(filepath.Join(w.dir, ProgressFile+".tmp"))
}

// Running reports the progress of an ingest running on the index in dir, if
// one is. It never creates anything in dir.
func Running(dir string) (Progress, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ProgressFile))
	if err != nil {
		return Progress{}, false
	}
	lockPath := filepath.Join(dir, LockFile)
	if _, err := os.Stat(lockPath); errors.Is(err, fs.ErrNotExist) {
		return Progress{}, false
	}
	// The writer holds the lock exclusively for its whole life: if a shared
	// lock can be had, the progress file is a dead run's leftover.
	lk := flock.New(lockPath)
	if ok, err := lk.TryRLock(); err != nil || ok {
		if ok {
			lk.Unlock()
		}
		return Progress{}, false
	}
	var p Progress
	if json.Unmarshal(b, &p) != nil {
		return Progress{}, false
	}
	return p, true
}

// RootsFile keeps the recorded roots' paths beside the database, one per
// line, so that a hint can list them even when the database cannot be read.
const RootsFile = "roots.txt"

func (w *Writer) writeRootsFile() error {
	paths := make([]string, 0, len(w.roots))
	for p := range w.roots {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	tmp := filepath.Join(w.dir, RootsFile+".tmp")
	data := strings.Join(paths, "\n")
	if data != "" {
		data += "\n"
	}
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(w.dir, RootsFile))
}

// RecordedRoots lists the roots the index in dir was built from: from its
// database when it can be read, else from the copy beside it; nil when
// neither says.
func RecordedRoots(dir string) []string {
	if r, err := OpenReader(dir); err == nil {
		defer r.Close()
		if roots, err := r.Roots(); err == nil && len(roots) > 0 {
			out := make([]string, 0, len(roots))
			for p := range roots {
				out = append(out, p)
			}
			sort.Strings(out)
			return out
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, RootsFile))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
