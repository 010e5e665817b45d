package weaviatecli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/weaviate"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// The fault tests run the real rag binary (ragBinary, reindex_test.go),
// since what they do to it (SIGKILL, a store that dies under it) must happen
// to a process, not to a goroutine of the test.

// proc is one run of the rag binary.
type proc struct {
	cmd         *exec.Cmd
	out, errb   bytes.Buffer
	cancel      context.CancelFunc
	waited      bool
	code        int
	stdout, log string
}

// start runs the binary with args and e's environment (plus extra
// KEY=VALUE entries), bounded to 5 minutes.
func (e *env) start(bin string, extra []string, args ...string) *proc {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	p := &proc{cancel: cancel}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, extra...)
	for k, v := range e.env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.wait() })
	return p
}

// wait waits for the process and returns its exit code (-1 when killed by
// a signal).
func (p *proc) wait() int {
	if p.waited {
		return p.code
	}
	p.waited = true
	p.cmd.Wait()
	p.cancel()
	p.code = p.cmd.ProcessState.ExitCode()
	p.stdout, p.log = p.out.String(), p.errb.String()
	return p.code
}

// bin runs the binary to its end: exit code, stdout, stderr.
func (e *env) bin(bin string, extra []string, args ...string) (int, string, string) {
	e.t.Helper()
	p := e.start(bin, extra, args...)
	code := p.wait()
	return code, p.stdout, p.log
}

// binMust runs the binary, wants exit code want, and decodes its stdout into v.
func (e *env) binMust(bin string, extra []string, want int, v any, args ...string) string {
	e.t.Helper()
	code, out, stderr := e.bin(bin, extra, args...)
	return wantExit(e.t, args, code, out, stderr, want, v)
}

// faultWords make the corpus' text; every paragraph also holds "zebra", so
// one lexical search finds every chunk, and a token naming its file,
// version and paragraph ("doc0042v2p1").
var faultWords = strings.Fields("retry policy backoff jitter signing key rotate pending chunk embed vector index cluster node quorum replica shard search lexical hybrid fusion rank score answer cite source file folder root ingest commit crash")

// writeCorpus writes files markdown files under dir/corpus, version v:
// version 1 has one paragraph a file, version 2 three and leaves out every
// tenth file (a deletion for the next ingest).
func (e *env) writeCorpus(files, v int) string {
	root := filepath.Join(e.dir, "corpus")
	for i := range files {
		name := fmt.Sprintf("corpus/d%d/doc%04d.md", i%7, i)
		if v == 2 && i%10 == 9 {
			os.Remove(filepath.Join(e.dir, name))
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# Document %d\n\n", i)
		for p := range 1 + 2*(v-1) {
			fmt.Fprintf(&b, "doc%04dv%dp%d zebra", i, v, p)
			for w := range 60 {
				b.WriteString(" " + faultWords[(i*7+p*13+w*v)%len(faultWords)])
			}
			b.WriteString(".\n\n")
		}
		e.write(name, b.String())
	}
	return root
}

var tokenRE = regexp.MustCompile(`doc\d{4}v\dp\d`)

// tokens is the sorted list of corpus tokens in text, joined.
func tokens(text string) string {
	t := tokenRE.FindAllString(text, -1)
	sort.Strings(t)
	return strings.Join(t, " ")
}

// storeState is everything a collection holds, comparable between two
// collections: each chunk object (id, path, ordinal, text, terms, key,
// vector rounded), every chunk object or not listed by a record, and each
// file and root record (without the time it was written).
type storeState struct {
	chunks, files []string
	listed        map[string]string // chunk id -> "path|tokens" for the chunks records list
	// dangling counts records listing a chunk that is not stored: the
	// store deletes a file's stale chunks before it writes its new
	// record, so a commit cut between the two leaves the old record over
	// chunks that are gone (the file then answers nothing until the next
	// ingest rewrites it).
	dangling int
	// versions counts the file records by the version of their chunks.
	versions map[string]int
}

func readState(t *testing.T, host, base string, extra ...func(*weaviate.Config)) storeState {
	t.Helper()
	ctx := context.Background()
	cfg := weaviate.Config{Host: host, Base: base}
	for _, f := range extra {
		f(&cfg)
	}
	c, err := weaviate.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var s storeState
	byID := map[string]weaviate.Chunk{}
	err = c.EachChunk(ctx, true, func(ch weaviate.Chunk) error {
		var v []string
		for _, x := range ch.Vector {
			v = append(v, fmt.Sprintf("%.5f", x))
		}
		s.chunks = append(s.chunks, strings.Join([]string{ch.ID, ch.Path, fmt.Sprint(ch.Ordinal), ch.Text, ch.Terms, ch.Key, strings.Join(v, ",")}, "|"))
		byID[ch.ID] = ch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := c.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.listed, s.versions = map[string]string{}, map[string]int{}
	for _, f := range recs {
		s.files = append(s.files, fmt.Sprintf("%s|%d|%d|%s|%s|%s", f.Path, f.Size, f.ModTime, f.Hash, f.Title, strings.Join(f.Chunks, ",")))
		missing := false
		for _, id := range f.Chunks {
			ch, ok := byID[id]
			if !ok {
				missing = true
				continue
			}
			s.listed[id] = ch.Path + "|" + tokens(ch.Text)
			if m := regexp.MustCompile(`v\dp0`).FindString(ch.Text); m != "" {
				s.versions[m[:2]]++
			}
		}
		if missing {
			s.dangling++
		}
	}
	sort.Strings(s.chunks)
	sort.Strings(s.files)
	return s
}

// checkVisible runs one lexical search for every chunk through the binary
// and fails t unless it returns only chunks the committed records list
// (none of a half-written file) and, but for lost of them, all of them. It
// returns how many listed chunks the search did not find.
func (e *env) checkVisible(bin string, extra []string, url string, s storeState, lost int) int {
	e.t.Helper()
	var out searchOut
	e.binMust(bin, extra, 0, &out, "--store", url, "search", "--json", "--mode", "lexical", "-k", "5000", "zebra")
	var got, want []string
	for _, r := range out.Results {
		got = append(got, r.Path+"|"+tokens(r.Text))
	}
	for _, v := range s.listed {
		want = append(want, v)
	}
	sort.Strings(got)
	sort.Strings(want)
	unlisted, missing := 0, 0
	for _, g := range got {
		if !slices.Contains(want, g) {
			unlisted++
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing++
		}
	}
	if unlisted > 0 || missing > lost {
		e.t.Errorf("search returned %d chunks, the committed records list %d; %d returned chunks are listed by no record, %d listed ones were not found", len(got), len(want), unlisted, missing)
	}
	return missing
}

// unfiltered is how many chunks the records list a where filter on their
// file's path does not find: objects whose index entries Weaviate lost.
func unfiltered(t *testing.T, host, base string, s storeState) int {
	t.Helper()
	ctx := context.Background()
	c, err := weaviate.Open(ctx, weaviate.Config{Host: host, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]string{}
	for id, v := range s.listed {
		p, _, _ := strings.Cut(v, "|")
		byPath[p] = append(byPath[p], id)
	}
	missed := 0
	for p, ids := range byPath {
		found, err := c.ChunkIDsOf(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !slices.Contains(found, id) {
				missed++
			}
		}
	}
	return missed
}

func (s storeState) same(t *testing.T, what string, want storeState) {
	t.Helper()
	if !slices.Equal(s.chunks, want.chunks) {
		missing, extra := 0, 0
		for _, c := range want.chunks {
			if !slices.Contains(s.chunks, c) {
				missing++
			}
		}
		for _, c := range s.chunks {
			if !slices.Contains(want.chunks, c) {
				extra++
			}
		}
		t.Errorf("%s: %d chunk objects, a clean ingest has %d (%d missing, %d not in the clean one)", what, len(s.chunks), len(want.chunks), missing, extra)
	}
	if !slices.Equal(s.files, want.files) {
		t.Errorf("%s: %d file and root records differ from a clean ingest's %d", what, len(s.files), len(want.files))
	}
}

type ingestJSON struct {
	Added, Updated, Unchanged, Removed int
	ChunksEmbedded                     int    `json:"chunks_embedded"`
	FilesNotWritten                    int    `json:"files_not_written"`
	StoreError                         string `json:"store_error"`
}

// hashes is each file record's hash, by path; nil when the node does not
// answer.
func hashes(host, base string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := weaviate.Open(ctx, weaviate.Config{Host: host, Base: base, Timeout: 5 * time.Second})
	if err != nil {
		return nil
	}
	recs, err := c.Files(ctx)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range recs {
		out[f.Path] = f.Hash
	}
	return out
}

// waitCommitted waits (2 minutes at most) until a commit of the running
// ingest has landed: some file record has another hash than in before.
func waitCommitted(t *testing.T, host, base string, before map[string]string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for p, h := range hashes(host, base) {
			if before[p] != h {
				return
			}
		}
	}
	t.Fatalf("rag ingest committed nothing in 2 minutes")
}

// waitWriting waits (1 minute at most) until the next commit has started to
// write: more chunk objects are stored than when it was called. A kill then
// lands inside a commit, between its chunks and its records.
func waitWriting(t *testing.T, host, base string) {
	t.Helper()
	ctx := context.Background()
	c, err := weaviate.Open(ctx, weaviate.Config{Host: host, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	n0, _, err := c.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if n, _, err := c.Count(ctx); err == nil && n > n0 {
			return
		}
	}
	t.Fatalf("rag ingest's next commit wrote nothing in a minute")
}

// TestIngestWhileWeaviateDies: the node is killed in the middle of rag
// ingest, after some commits landed. The binary retries, stops writing,
// reports what it wrote and what it did not (files_not_written), names the
// store and the way out, and exits 3; the files it counts as updated have
// their new record. Restarted, the collection shows no chunk of a
// half-written file. rag ingest again exits 0 and leaves exactly the
// objects of a clean ingest into an empty collection, each of them found by
// BM25 and by its path filter (the cut log's repair, internal/weaviate
// repair.go).
// It runs with batches over REST and over gRPC (the node's endpoint named
// in the URL).
func TestIngestWhileWeaviateDies(t *testing.T) {
	t.Run("rest", func(t *testing.T) { ingestWhileWeaviateDies(t, false) })
	t.Run("grpc", func(t *testing.T) { ingestWhileWeaviateDies(t, true) })
}

func ingestWhileWeaviateDies(t *testing.T, grpc bool) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	bin := ragBinary(t)
	e := newEnv(t)
	query := ""
	if grpc {
		query = "?grpc=" + n.GRPCAddr
	}
	url := "weaviate://" + n.HTTPAddr + "/Dies" + query
	const files = 400
	root := e.writeCorpus(files, 1)
	var rep ingestJSON
	e.binMust(bin, nil, 0, &rep, "--store", url, "ingest", "--json", root)
	if rep.Added != files {
		t.Fatalf("first ingest: %+v", rep)
	}
	before := hashes(n.HTTPAddr, "Dies")

	// Version 2: every file changes (three paragraphs), every tenth goes.
	e.writeCorpus(files, 2)
	e.srv.SetLatency(100 * time.Millisecond) // a model server that takes its time: the run lasts
	inputs := e.srv.EmbeddedInputs()
	p := e.start(bin, nil, "--store", url, "ingest", "--json", root)
	waitCommitted(t, n.HTTPAddr, "Dies", before)
	waitWriting(t, n.HTTPAddr, "Dies")
	n.Kill()
	killed := time.Now()
	code := p.wait()
	t.Logf("rag ingest ended %.1f s after the node was killed, exit %d\nstderr: %s", time.Since(killed).Seconds(), code, p.log)
	if code != 3 {
		t.Fatalf("rag ingest with the node killed: exit %d, want 3\nstderr: %s", code, p.log)
	}
	if err := json.Unmarshal([]byte(p.stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, p.stdout)
	}
	spent := e.srv.EmbeddedInputs() - inputs
	t.Logf("the stopped run embedded %d inputs, %d of them in committed files: %d embedded for nothing", spent, rep.ChunksEmbedded, spent-rep.ChunksEmbedded)
	if rep.FilesNotWritten == 0 || rep.Updated == 0 || rep.Updated+rep.FilesNotWritten != files-files/10 || rep.StoreError == "" {
		t.Errorf("summary %+v: want some files updated, the rest (of %d) not written, and the store's error", rep, files-files/10)
	}
	wantErr := fmt.Sprintf("rag: error: %d files not written: %s unavailable: ", rep.FilesNotWritten, strings.TrimSuffix(url, query))
	if !strings.Contains(p.log, wantErr) || !strings.Contains(p.log, "rag: hint: run rag ingest again when it is back") {
		t.Errorf("stderr does not name the store and the way out (want %q and the hint):\n%s", wantErr, p.log)
	}
	if strings.Contains(p.log, "goroutine ") || strings.Contains(p.log, "panic") {
		t.Errorf("stderr holds a panic trace:\n%s", p.log)
	}
	cutLogs, _ := filepath.Glob(filepath.Join(e.env["HOME"], ".cache", "rag", "weaviate-cut", "*.json"))
	if len(cutLogs) != 1 {
		t.Errorf("the write the node died under was not logged for repair: %v", cutLogs)
	}

	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	mid := readState(t, n.HTTPAddr, "Dies")
	t.Logf("after the restart: %d chunk objects stored, %d of them listed by a record; records: %v, %d over chunks deleted", len(mid.chunks), len(mid.listed), mid.versions, mid.dangling)
	e.checkVisible(bin, nil, url, mid, 0)
	// The report never claims more than the store holds: every file it
	// counts as updated has its new record; those it counts as not written
	// have their old one, except in the batch the node died under, which
	// may have landed in part.
	if v2 := mid.versions["v2"]; v2 < rep.Updated || v2 > rep.Updated+rep.FilesNotWritten {
		t.Errorf("%d files have their new record; the report says %d updated, %d not written", v2, rep.Updated, rep.FilesNotWritten)
	}

	e.srv.SetLatency(0)
	var again ingestJSON
	e.binMust(bin, nil, 0, &again, "--store", url, "ingest", "--json", root)
	if again.Updated != files-files/10-mid.versions["v2"] || again.Updated > rep.FilesNotWritten || again.Removed != files/10 || again.FilesNotWritten != 0 {
		t.Errorf("the run after the restart: %+v, want the %d files without their new record updated (of the %d not written) and %d removed",
			again, files-files/10-mid.versions["v2"], rep.FilesNotWritten, files/10)
	}
	clean := "weaviate://" + n.HTTPAddr + "/DiesClean" + query
	e.binMust(bin, nil, 0, nil, "--store", clean, "ingest", "--quiet", root)
	got, want := readState(t, n.HTTPAddr, "Dies"), readState(t, n.HTTPAddr, "DiesClean")
	got.same(t, "after the node came back and ingest ran again", want)
	// Weaviate may lose the index entries of the objects the kill cut the
	// write of, and writing the same objects again does not restore them
	// (weaviate/weaviate#4262): the second ingest first rewrites the
	// objects of the cut write from the cut log, so every listed chunk is
	// found by BM25 and by a path filter again.
	e.checkVisible(bin, nil, url, got, 0)
	if n := unfiltered(t, n.HTTPAddr, "Dies", got); n > 0 {
		t.Errorf("after the second ingest a path filter misses %d of %d listed chunks", n, len(got.listed))
	}
	if logs, _ := filepath.Glob(filepath.Join(e.env["HOME"], ".cache", "rag", "weaviate-cut", "*.json")); len(logs) != 0 {
		t.Errorf("the cut log is still there after the repair: %v", logs)
	}
}

// TestRagKilledMidIngest: rag ingest is killed with SIGKILL part way
// through an update of every file. In between, no search returns a chunk
// its file's committed record does not list; rag ingest again exits 0 and
// leaves exactly the objects of a clean ingest into an empty collection (no
// duplicate, nothing lost, the same vectors and records).
func TestRagKilledMidIngest(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	bin := ragBinary(t)
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Killed"
	const files = 400
	root := e.writeCorpus(files, 1)
	e.binMust(bin, nil, 0, nil, "--store", url, "ingest", "--quiet", root)
	before := hashes(n.HTTPAddr, "Killed")

	e.writeCorpus(files, 2)
	e.srv.SetLatency(100 * time.Millisecond)
	p := e.start(bin, nil, "--store", url, "ingest", "--quiet", root)
	waitCommitted(t, n.HTTPAddr, "Killed", before)
	waitWriting(t, n.HTTPAddr, "Killed")
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("rag ingest finished (exit %d) before it was killed: make the corpus bigger\n%s", p.code, p.log)
	}
	mid := readState(t, n.HTTPAddr, "Killed")
	t.Logf("killed rag with %d chunk objects stored, %d listed by a record; records: %v, %d over chunks deleted", len(mid.chunks), len(mid.listed), mid.versions, mid.dangling)
	e.checkVisible(bin, nil, url, mid, 0)

	e.srv.SetLatency(0)
	var again ingestJSON
	e.binMust(bin, nil, 0, &again, "--store", url, "ingest", "--json", root)
	if again.Updated != files-files/10-mid.versions["v2"] || again.Updated == 0 || again.Removed != files/10 {
		t.Errorf("the run after the kill: %+v, want the %d files the killed run did not commit updated and %d removed", again, files-files/10-mid.versions["v2"], files/10)
	}
	clean := "weaviate://" + n.HTTPAddr + "/KilledClean"
	e.binMust(bin, nil, 0, nil, "--store", clean, "ingest", "--quiet", root)
	got, want := readState(t, n.HTTPAddr, "Killed"), readState(t, n.HTTPAddr, "KilledClean")
	got.same(t, "after the kill and a second ingest", want)
	e.checkVisible(bin, nil, url, got, 0)
}
