package weaviate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/storetest"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// faultDim is the dimension of the fault tests' vectors.
const faultDim = 16

var words = strings.Fields("retry policy backoff jitter signing key rotate pending chunk embed vector index cluster node quorum replica shard search lexical hybrid fusion rank score answer cite source file folder root ingest commit crash")

// makeBatch is a deterministic batch of files x perFile chunks, each with a
// vector (every fifth pending), the same on every call.
func makeBatch(files, perFile int) *store.Batch {
	rng := rand.New(rand.NewPCG(42, 7))
	b := &store.Batch{Roots: []store.Root{{Path: "/f", IsDir: true}}}
	for i := range files {
		path := fmt.Sprintf("/f/d%02d/file%04d.md", i%10, i)
		p := store.Put{File: store.File{Path: path, Size: int64(100 + i), ModTime: 1_700_000_000_000_000_000 + int64(i), Hash: fmt.Sprintf("%064x", i), Title: "T"}}
		for j := range perFile {
			var ws []string
			for range 12 {
				ws = append(ws, words[rng.IntN(len(words))])
			}
			text := fmt.Sprintf("file %d chunk %d: %s", i, j, strings.Join(ws, " "))
			p.Chunks = append(p.Chunks, store.Chunk{Title: "T", Headings: []string{"H"}, StartLine: 1 + 10*j, EndLine: 9 + 10*j,
				Text: text, Terms: lexical.ChunkTerms([]string{"H"}, text), Key: []byte(fmt.Sprintf("key-%d-%d", i, j))})
			if (i*perFile+j)%5 == 4 {
				p.Vectors = append(p.Vectors, nil)
				continue
			}
			v := make([]float32, faultDim)
			for d := range v {
				v[d] = float32(rng.NormFloat64())
			}
			p.Vectors = append(p.Vectors, v)
		}
		b.Puts = append(b.Puts, p)
	}
	return b
}

func commitBatch(ctx context.Context, s store.Store, b *store.Batch) error {
	w, err := s.OpenWriter(ctx, storetest.Settings(), time.Minute)
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Commit(ctx, b)
}

// snapshot is everything a store holds, comparable between two stores: each
// chunk object (id, path, text, terms, vector rounded) and each record
// (without the time it was written).
func snapshot(t *testing.T, c *Client) (chunks, files []string) {
	t.Helper()
	ctx := context.Background()
	err := c.EachChunk(ctx, true, func(ch Chunk) error {
		var v []string
		for _, x := range ch.Vector {
			v = append(v, fmt.Sprintf("%.5f", x))
		}
		chunks = append(chunks, strings.Join([]string{ch.ID, ch.Path, fmt.Sprint(ch.Ordinal), ch.Text, ch.Terms, ch.Key, strings.Join(v, ",")}, "|"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, roots, err := c.records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range recs {
		files = append(files, fmt.Sprintf("%s|%d|%d|%s|%s", f.Path, f.Size, f.ModTime, f.Hash, strings.Join(f.Chunks, ",")))
	}
	for _, r := range roots {
		files = append(files, fmt.Sprintf("root %s %v", r.Path, r.IsDir))
	}
	sort.Strings(chunks)
	sort.Strings(files)
	return chunks, files
}

// checkVisible fails t when a search returns a chunk its file's record does
// not list.
func checkVisible(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	r, err := s.OpenReader(ctx)
	if errors.Is(err, store.ErrNotFound) || err != nil && strings.Contains(err.Error(), "no index") {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Client(ctx)
	recs, _, err := c.records(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[uint64]bool{}
	for _, f := range recs {
		for _, u := range f.Chunks {
			_, id, _ := store.ParseUUID(u)
			listed[id] = true
		}
	}
	for _, q := range []string{"retry policy", "cluster node quorum", "crash commit"} {
		hits, err := r.Lexical(ctx, lexical.Terms(q), 50, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if !listed[h.ID] {
				t.Fatalf("search %q returned chunk %d, which no committed record lists", q, h.ID)
			}
		}
	}
}

const childEnv = "RAG_WEAVIATE_WRITER_CHILD"

// TestWriterChild is the writer the kill test kills: it commits the fault
// batch into the store named by $RAG_WEAVIATE_WRITER_CHILD (host/base) and
// exits. It does nothing in a normal run.
func TestWriterChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("the kill test's child process")
	}
	host, rest, _ := strings.Cut(spec, "/")
	base, grpc, _ := strings.Cut(rest, "/")
	if err := commitBatch(context.Background(), New(Config{Host: host, GRPCHost: grpc, GRPCRequired: true, Base: base}), makeBatch(120, 8)); err != nil {
		t.Fatal(err)
	}
}

// A writer killed with SIGKILL in the middle of a commit, then the same
// commit run again, leaves exactly the objects a clean commit leaves: no
// duplicated chunk, none lost, the same records; and while the killed
// commit's leftovers are there, no search returns a chunk no record lists.
func TestKilledWriterConverges(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	ctx := context.Background()
	clean := New(Config{Host: n.HTTPAddr, GRPCHost: n.GRPCAddr, GRPCRequired: true, Base: "Clean"})
	if err := commitBatch(ctx, clean, makeBatch(120, 8)); err != nil {
		t.Fatal(err)
	}
	wantChunks, wantFiles := func() ([]string, []string) {
		c, _ := clean.Client(ctx)
		return snapshot(t, c)
	}()
	if len(wantChunks) != 960 {
		t.Fatalf("clean commit stored %d chunks, want 960", len(wantChunks))
	}

	killed := New(Config{Host: n.HTTPAddr, GRPCHost: n.GRPCAddr, GRPCRequired: true, Base: "Killed"})
	// A first, smaller commit of the same files, so the killed run replaces
	// records and deletes stale chunks, not only adds.
	first := makeBatch(120, 8)
	for i := range first.Puts {
		first.Puts[i].Chunks = first.Puts[i].Chunks[:3]
		first.Puts[i].Vectors = first.Puts[i].Vectors[:3]
		first.Puts[i].Chunks[0].Text += " (old version)"
	}
	if err := commitBatch(ctx, killed, first); err != nil {
		t.Fatal(err)
	}
	kc, _ := killed.Client(ctx)
	before, _, _ := kc.Count(ctx)

	cmd := exec.Command(os.Args[0], "-test.run", "^TestWriterChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+n.HTTPAddr+"/Killed/"+n.GRPCAddr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		now, _, err := kc.Count(ctx)
		if err == nil && now > before+150 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the child wrote nothing in 2 minutes (count %d, %v)", now, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the child finished before it was killed (%v): make the batch bigger", err)
	}
	mid, _, _ := kc.Count(ctx)
	t.Logf("killed the writer with %d chunk objects stored (%d before it started, %d when complete)", mid, before, len(wantChunks))
	checkVisible(t, killed)

	if err := commitBatch(ctx, killed, makeBatch(120, 8)); err != nil {
		t.Fatal(err)
	}
	gotChunks, gotFiles := snapshot(t, kc)
	if !slices.Equal(gotChunks, wantChunks) {
		t.Errorf("after the re-run: %d chunk objects, want the clean run's %d (equal: %v)", len(gotChunks), len(wantChunks), slices.Equal(gotChunks, wantChunks))
	}
	if !slices.Equal(gotFiles, wantFiles) {
		t.Errorf("after the re-run the records differ from the clean run's: %d vs %d", len(gotFiles), len(wantFiles))
	}
	checkVisible(t, killed)
}

// Weaviate stopped in the middle of a commit: the commit retries for its
// budget, then fails with an error that is a store.ErrUnavailable (what
// ingest turns into "pending, exit 3"); nothing half written is visible to
// search; once the server is back, committing the batch again converges.
func TestServerStoppedMidCommit(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	ctx := context.Background()
	var retries atomic.Int64 // batches retry in parallel
	s := New(Config{Host: n.HTTPAddr, GRPCHost: n.GRPCAddr, GRPCRequired: true, Base: "Stopped",
		Retry: retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, Budget: 4 * time.Second,
			OnRetry: func(int, error, time.Duration) { retries.Add(1) }}})
	c, err := s.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- commitBatch(ctx, s, makeBatch(120, 8)) }()
	for {
		if ok, _ := c.Exists(ctx); ok {
			if n, _, _ := c.Count(ctx); n > 100 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the commit finished (%v) before the server was stopped", err)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.Kill()
	err = <-done
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit with the server gone: %v, want a store.ErrUnavailable", err)
	}
	var gu *retry.GaveUpError
	if !errors.As(err, &gu) || retries.Load() == 0 {
		t.Fatalf("the commit was not retried before it gave up: %v (%d retries)", err, retries.Load())
	}
	t.Logf("commit error after %d retries: %v", retries.Load(), err)
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	checkVisible(t, s)
	if err := commitBatch(ctx, s, makeBatch(120, 8)); err != nil {
		t.Fatal(err)
	}
	clean := New(Config{Host: n.HTTPAddr, GRPCHost: n.GRPCAddr, GRPCRequired: true, Base: "StoppedClean"})
	if err := commitBatch(ctx, clean, makeBatch(120, 8)); err != nil {
		t.Fatal(err)
	}
	cc, _ := clean.Client(ctx)
	wc, wf := snapshot(t, cc)
	gc, gf := snapshot(t, c)
	if !slices.Equal(gc, wc) || !slices.Equal(gf, wf) {
		t.Errorf("after the server came back and the commit ran again: %d chunks, %d records; a clean run has %d, %d", len(gc), len(gf), len(wc), len(wf))
	}
}
