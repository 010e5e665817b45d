package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollamatest"
)

var crashIterations = flag.Int("crash.iterations", 12, "kill -9 rounds in TestKillDuringIngest (200 for a long run)")

// Ingest flags that make a run of the crash corpus take long enough, against
// a fake server with a few milliseconds of latency, to be killed in the middle.
var slowIngest = []string{"--batch-size", "4", "--parallel", "1"}

// corpus is a folder of documents the crash tests change between runs.
type corpus struct {
	dir   string
	r     *rand.Rand
	files []string
	next  int
}

func newCorpus(t *testing.T, n int, seed uint64) *corpus {
	c := &corpus{dir: filepath.Join(t.TempDir(), "corpus"), r: rand.New(rand.NewPCG(seed, 99))}
	for range n {
		c.add(t)
	}
	return c
}

func (c *corpus) add(t *testing.T) {
	name := fmt.Sprintf("d%02d/doc-%04d", c.next%10, c.next)
	c.next++
	c.files = append(c.files, writeDoc(t, c.r, c.dir, name, 40+c.r.IntN(400)))
}

// mutate edits some files, touches one, deletes one and adds two.
func (c *corpus) mutate(t *testing.T) {
	for range 15 {
		p := c.files[c.r.IntN(len(c.files))]
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n%s.\n", words(c.r, 10+c.r.IntN(100)))
		f.Close()
	}
	p := c.files[c.r.IntN(len(c.files))]
	later := time.Now().Add(time.Duration(c.r.IntN(1000)+1) * time.Second)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	i := c.r.IntN(len(c.files))
	if err := os.Remove(c.files[i]); err != nil {
		t.Fatal(err)
	}
	c.files = slices.Delete(c.files, i, i+1)
	c.add(t)
	c.add(t)
}

type chunkRow struct {
	path       string
	start, end int
	text       string
}

// chunkRows reads every chunk of the index at dir straight from its database.
func chunkRows(t *testing.T, dir string) []chunkRow {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, index.DBFile)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT path, start_line, end_line, text FROM chunks`)
	if err != nil {
		t.Fatalf("read chunks of %s: %v", dir, err)
	}
	defer rows.Close()
	var out []chunkRow
	for rows.Next() {
		var c chunkRow
		if err := rows.Scan(&c.path, &c.start, &c.end, &c.text); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b chunkRow) int {
		return strings.Compare(fmt.Sprintf("%s\x00%09d\x00%09d\x00%s", a.path, a.start, a.end, a.text),
			fmt.Sprintf("%s\x00%09d\x00%09d\x00%s", b.path, b.start, b.end, b.text))
	})
	return out
}

func duplicates(rows []chunkRow) []chunkRow {
	var d []chunkRow
	for i := 1; i < len(rows); i++ {
		if rows[i] == rows[i-1] {
			d = append(d, rows[i])
		}
	}
	return d
}

func noIndexYet(r result) bool {
	return r.code == 1 && strings.Contains(r.stderr, index.ErrNoIndex.Error())
}

// firstIngestRunning: what a reader says while the first ingest has not
// committed anything yet.
func firstIngestRunning(r result) bool {
	return r.code == 5 && strings.Contains(r.stderr, "is still running") && strings.Contains(r.stderr, "has not committed anything yet")
}

// checkHealthy runs rag check and rag search on an index a killed ingest left
// behind. It reports whether an index exists.
func checkHealthy(t *testing.T, env []string, round string) bool {
	t.Helper()
	chk := rag(t, env, "check", "--json")
	exists := true
	switch {
	case chk.code == 0:
		var rep index.CheckReport
		if err := json.Unmarshal([]byte(chk.stdout), &rep); err != nil || !rep.OK() {
			t.Errorf("%s: rag check --json exited 0 but printed %q (%v)", round, chk.stdout, err)
		}
	case noIndexYet(chk):
		exists = false
	default:
		t.Errorf("%s: rag check on the index a killed ingest left: %s", round, chk)
	}
	s := rag(t, env, "search", "--json", "x")
	switch {
	case s.code == 0:
		var out struct{ Results []json.RawMessage }
		if err := json.Unmarshal([]byte(s.stdout), &out); err != nil {
			t.Errorf("%s: rag search --json printed %q: %v", round, s.stdout, err)
		}
	case noIndexYet(s) && !exists:
	default:
		t.Errorf("%s: rag search on the index a killed ingest left: %s", round, s)
	}
	return exists
}

// TestKillDuringIngest kills rag ingest with SIGKILL at random moments, while
// the corpus changes between rounds, and checks after each kill that the index
// is healthy and searchable, and at the end that it holds exactly what a clean
// ingest of the same corpus holds: no chunk lost, none duplicated.
func TestKillDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rag ingest many times")
	}
	srv := ollamatest.New(t, embedModel())
	srv.SetLatency(2 * time.Millisecond)
	home := t.TempDir()
	c := newCorpus(t, 300, 1)
	idx := filepath.Join(home, "index")
	env := ragEnv(t, home, idx, srv.URL)
	ingestArgs := append([]string{"ingest", "--wait", "30s"}, append(slowIngest, c.dir)...)

	// How much work a full ingest is: the machine is shared and its speed
	// varies tenfold, so the kill is placed by the embedding requests the
	// fake server has seen, plus a random few milliseconds, not by wall time.
	ragBinary(t) // built first, not timed
	start := time.Now()
	if r := rag(t, ragEnv(t, home, filepath.Join(home, "measure"), srv.URL), ingestArgs...); r.code != 0 {
		t.Fatalf("full ingest: %s", r)
	}
	fullCalls := srv.Calls("/api/embed")
	t.Logf("a full ingest of %d files takes %d embedding requests and %v", len(c.files), fullCalls, time.Since(start))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	killed, finished := 0, 0
	for i := range *crashIterations {
		if i > 0 {
			c.mutate(t)
		}
		// The first round has the whole corpus to do, later ones what the
		// mutations and earlier kills left.
		after := rng.IntN(max(fullCalls, 1) + 1)
		if i > 0 {
			after = rng.IntN(25)
		}
		extra := time.Duration(rng.IntN(20_000)) * time.Microsecond
		round := fmt.Sprintf("round %d (kill after %d requests + %v)", i, after, extra)
		base := srv.Calls("/api/embed")
		cmd, _, errb := ragCmd(t, env, ingestArgs...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-time.After(time.Millisecond):
			}
			if srv.Calls("/api/embed")-base >= after {
				time.Sleep(extra)
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				break
			}
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("%s: ingest exited %d: %s", round, code, errb)
		} else {
			finished++
		}
		if checkHealthy(t, env, round) {
			if d := duplicates(chunkRows(t, idx)); len(d) > 0 {
				t.Errorf("%s: %d duplicated chunks, e.g. %+v", round, len(d), d[0])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d rounds killed mid-run, %d finished before the kill", killed, finished)

	// Finish the job, and compare with a clean ingest of the same corpus.
	if r := rag(t, env, ingestArgs...); r.code != 0 {
		t.Fatalf("final ingest: %s", r)
	}
	clean := filepath.Join(home, "clean")
	if r := rag(t, ragEnv(t, home, clean, srv.URL), ingestArgs...); r.code != 0 {
		t.Fatalf("clean ingest: %s", r)
	}
	got, want := chunkRows(t, idx), chunkRows(t, clean)
	if len(want) == 0 {
		t.Fatal("the clean index holds no chunks")
	}
	if !slices.Equal(got, want) {
		t.Errorf("after the kills the index holds %d chunks, a clean ingest %d", len(got), len(want))
		gotSet, wantSet := map[chunkRow]int{}, map[chunkRow]int{}
		for _, r := range got {
			gotSet[r]++
		}
		for _, r := range want {
			wantSet[r]++
		}
		n := 0
		for r, k := range wantSet {
			if gotSet[r] != k && n < 5 {
				t.Errorf("chunk %s:%d-%d held %d times, want %d", r.path, r.start, r.end, gotSet[r], k)
				n++
			}
		}
		for r := range gotSet {
			if wantSet[r] == 0 && n < 10 {
				t.Errorf("chunk %s:%d-%d should not be there", r.path, r.start, r.end)
				n++
			}
		}
	}
	for _, dir := range []string{idx, clean} {
		if r := rag(t, ragEnv(t, home, dir, srv.URL), "check"); r.code != 0 {
			t.Errorf("rag check %s: %s", dir, r)
		}
		rd, err := index.OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := rd.Stats()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		rd.EachVector(func(uint64, []float32) error { n++; return nil })
		rd.Close()
		if n != st.Chunks || st.Pending != 0 {
			t.Errorf("%s: %d vectors for %d chunks (%d pending)", dir, n, st.Chunks, st.Pending)
		}
		if st.Files != len(c.files) {
			t.Errorf("%s: %d files indexed, the corpus has %d", dir, st.Files, len(c.files))
		}
	}
}

// TestSearchDuringIngest runs rag search over and over while an ingest
// commits batch after batch: no search may fail, except with "no index here
// yet" or "the first ingest ... is still running" before the first commit.
func TestSearchDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rag many times")
	}
	srv := ollamatest.New(t, embedModel())
	srv.SetLatency(3 * time.Millisecond)
	home := t.TempDir()
	c := newCorpus(t, 300, 2)
	env := ragEnv(t, home, filepath.Join(home, "index"), srv.URL)

	cmd, _, errb := ragCmd(t, env, append([]string{"ingest"}, append(slowIngest, c.dir)...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	searches, found, early := 0, 0, 0
	seenIndex := false
loop:
	for {
		select {
		case <-done:
			break loop
		default:
		}
		r := rag(t, env, "search", "--json", "-k", "3", vocabulary[searches%len(vocabulary)])
		searches++
		switch {
		case r.code == 0:
			seenIndex = true
			var out struct{ Results []SearchResultJSON }
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("search %d printed %q: %v", searches, r.stdout, err)
			}
			if len(out.Results) > 0 {
				found++
			}
		case (noIndexYet(r) || firstIngestRunning(r)) && !seenIndex:
			early++
		default:
			cmd.Process.Kill()
			t.Fatalf("search %d during ingest: %s", searches, r)
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errb)
	}
	t.Logf("%d searches during the ingest: %d before the first commit, %d with results", searches, early, found)
	if r := rag(t, env, "search", "--json", "x"); r.code != 0 {
		t.Errorf("search after the ingest: %s", r)
	}
}

// SearchResultJSON is the part of rag search --json's rows the test reads.
type SearchResultJSON struct {
	Path  string  `json:"path"`
	Score float64 `json:"score"`
	Text  string  `json:"text"`
}

// TestLockDiesWithKilledIngest: the lock file a SIGKILLed ingest leaves
// behind does not block the next one, while a live ingest does.
func TestLockDiesWithKilledIngest(t *testing.T) {
	srv := ollamatest.New(t, embedModel())
	home := t.TempDir()
	c := newCorpus(t, 20, 3)
	idx := filepath.Join(home, "index")
	env := ragEnv(t, home, idx, srv.URL)

	srv.Hang("/api/embed", true) // the first ingest holds the lock and waits forever
	cmd, _, errb := ragCmd(t, env, "ingest", c.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	deadline := time.Now().Add(time.Minute)
	for srv.Calls("/api/embed") == 0 {
		select {
		case <-done:
			t.Fatalf("ingest exited before embedding: exit %d: %s", cmd.ProcessState.ExitCode(), errb)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest never asked for an embedding")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := rag(t, env, "ingest", "--wait", "0", c.dir); r.code != 5 {
		t.Errorf("second ingest while the first holds the lock: %s; want exit 5", r)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	done <- nil // for the deferred cleanup
	if _, err := os.Stat(filepath.Join(idx, index.LockFile)); err != nil {
		t.Errorf("the killed ingest left no lock file: %v", err)
	}
	srv.Hang("/api/embed", false)
	if r := rag(t, env, "ingest", "--wait", "0", c.dir); r.code != 0 {
		t.Fatalf("ingest after the lock holder was killed: %s; want exit 0", r)
	}
	if r := rag(t, env, "check"); r.code != 0 {
		t.Errorf("rag check: %s", r)
	}
}
