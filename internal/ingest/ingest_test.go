package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/chunk"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
)

var miniLM = ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512}

// opener is the OpenEmbedder the CLI builds: ask the server about the model,
// then embed with it. A server that is down makes the run go offline.
func opener(host string) ingest.OpenEmbedder {
	return func(ctx context.Context, model string) (embed.Embedder, int, error) {
		c, err := ollama.New(host)
		if err != nil {
			return nil, 0, err
		}
		info, err := c.Show(ctx, model)
		if err != nil {
			return nil, 0, err
		}
		return &ollama.Embedder{Client: c, Name: model}, info.ContextLength, nil
	}
}

// hooked wraps an embedder and calls after once each Embed call returns.
type hooked struct {
	embed.Embedder
	mu    sync.Mutex
	n     int
	after func(n int)
}

func (h *hooked) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	v, err := h.Embedder.Embed(ctx, texts)
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	h.after(n)
	return v, err
}

// fresh embeds with a new client, so a new connection, on every call: the
// tests that stop the server mid-run check ingest's handling, not how the
// HTTP client notices a dead kept-alive connection (see ollama's
// TestServerDyingMidRequestIsUnavailable for that).
type fresh struct{ host, model string }

func (f fresh) Model() string { return f.model }

func (f fresh) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c, err := ollama.New(f.host)
	if err != nil {
		return nil, err
	}
	return c.Embed(ctx, f.model, texts)
}

func closedHost(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

type env struct {
	root, idx string
	model     string
	chunkTok  int
}

func newEnv(t *testing.T, model string) *env {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "docs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	return &env{root: root, idx: filepath.Join(base, "index"), model: model}
}

func (e *env) options(embedder ingest.OpenEmbedder) ingest.Options {
	return ingest.Options{
		Roots:    []string{e.root},
		IndexDir: e.idx,
		Index:    index.Settings{EmbedModel: e.model, ChunkTokens: e.chunkTok, DefaultChunkTokens: 256},
		Embedder: embedder,
	}
}

func (e *env) run(t *testing.T, ctx context.Context, opts ingest.Options) *ingest.Report {
	t.Helper()
	rep, err := ingest.Run(ctx, opts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return rep
}

func (e *env) path(name string) string { return filepath.Join(e.root, name) }

var clock = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// write writes a file with a modification time distinct from every earlier
// write, so that an edit is never hidden by a coarse file system clock.
func (e *env) write(t *testing.T, name string, data []byte) {
	t.Helper()
	p := e.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	if err := os.Chtimes(p, clock, clock); err != nil {
		t.Fatal(err)
	}
}

type counts struct{ Added, Updated, Unchanged, Removed, Failed, ChunksEmbedded, ChunksPending int }

func countsOf(r *ingest.Report) counts {
	return counts{r.Added, r.Updated, r.Unchanged, r.Removed, len(r.FailedFiles), r.ChunksEmbedded, r.ChunksPending}
}

// snapshot is everything an index holds.
type snapshot struct {
	stats  index.Stats
	chunks []index.Chunk
	vecs   map[uint64][]float32
}

func (s snapshot) byPath(p string) []index.Chunk {
	var out []index.Chunk
	for _, c := range s.chunks {
		if c.Path == p {
			out = append(out, c)
		}
	}
	return out
}

func (s snapshot) texts() string {
	var b strings.Builder
	for _, c := range s.chunks {
		b.WriteString(c.Text)
		b.WriteString("\n")
	}
	return b.String()
}

func read(t *testing.T, dir string) snapshot {
	t.Helper()
	r, err := index.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var s snapshot
	if s.stats, err = r.Stats(); err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); len(s.chunks) < s.stats.Chunks && id < 100_000; id++ {
		cs, err := r.Chunks([]uint64{id})
		if err != nil {
			continue // deleted
		}
		s.chunks = append(s.chunks, cs[0])
	}
	if len(s.chunks) != s.stats.Chunks {
		t.Fatalf("found %d of %d chunks", len(s.chunks), s.stats.Chunks)
	}
	s.vecs = map[uint64][]float32{}
	err = r.EachVector(func(id uint64, v []float32) error {
		s.vecs[id] = slices.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func check(t *testing.T, dir string) {
	t.Helper()
	rep, err := index.Check(dir)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("index problems: %q", rep.Problems)
	}
}

func sameVector(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// embedText is what ingest embeds for a stored chunk.
func embedText(prefix string, c index.Chunk) string {
	return prefix + chunk.Chunk{Text: c.Text, Headings: c.Headings}.EmbedText(c.Title)
}

func TestIncremental(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	e.write(t, "a.md", []byte("# Aardvarks\n\nAardvarks eat ants at night.\n"))
	e.write(t, "b.txt", []byte("Bumblebees buzz by the brook.\n"))
	e.write(t, "sub/c.md", []byte("# Crocodiles\n\nCrocodiles crunch crackers.\n"))
	opts := e.options(opener(fake.URL))
	progress := 0
	opts.Progress = func(ingest.Progress) { progress++ }

	steps := []struct {
		name   string
		change func()
		want   counts
		check  func(t *testing.T, before, after snapshot)
	}{
		{
			name:   "first run",
			change: func() {},
			want:   counts{Added: 3, ChunksEmbedded: 3},
			check: func(t *testing.T, _, s snapshot) {
				if s.stats.Files != 3 || s.stats.Chunks != 3 || s.stats.Pending != 0 || len(s.vecs) != 3 {
					t.Errorf("index holds %+v with %d vectors", s.stats, len(s.vecs))
				}
				for _, c := range s.chunks {
					if v, ok := s.vecs[c.ID]; !ok || !sameVector(v, ollamatest.Embed(embedText("", c), 384)) {
						t.Errorf("chunk %q: vector is not the embedding of its text", c.Text)
					}
				}
			},
		},
		{
			name:   "nothing changed",
			change: func() {},
			want:   counts{Unchanged: 3},
		},
		{
			name: "touched, same content",
			change: func() {
				clock = clock.Add(time.Minute)
				os.Chtimes(e.path("b.txt"), clock, clock)
			},
			want: counts{Unchanged: 3},
		},
		{
			name: "edited and deleted",
			change: func() {
				e.write(t, "b.txt", []byte("Bumblebees buzz by the big blue brook, beside busy beavers.\n"))
				os.Remove(e.path("sub/c.md"))
			},
			want: counts{Updated: 1, Unchanged: 1, Removed: 1, ChunksEmbedded: 1},
			check: func(t *testing.T, before, s snapshot) {
				if len(s.byPath(e.path("sub/c.md"))) != 0 {
					t.Error("the deleted file's chunks are still indexed")
				}
				b := s.byPath(e.path("b.txt"))
				if len(b) != 1 || !strings.Contains(b[0].Text, "beavers") {
					t.Errorf("b.txt chunks = %+v, want the new text", b)
				}
				if strings.Contains(s.texts(), "Bumblebees buzz by the brook") {
					t.Error("the old text of b.txt is still indexed")
				}
				a0, a1 := before.byPath(e.path("a.md")), s.byPath(e.path("a.md"))
				if len(a1) != 1 || a0[0].ID != a1[0].ID {
					t.Error("the unchanged file's chunk was replaced")
				}
				if s.stats.Files != 2 || s.stats.Chunks != 2 || len(s.vecs) != 2 {
					t.Errorf("index holds %+v with %d vectors", s.stats, len(s.vecs))
				}
			},
		},
		{
			name:   "new file",
			change: func() { e.write(t, "sub/d.md", []byte("Dolphins dive deep.\n")) },
			want:   counts{Added: 1, Unchanged: 2, ChunksEmbedded: 1},
		},
	}
	var before snapshot
	for i, st := range steps {
		st.change()
		calls, inputs := fake.Calls("/api/embed"), fake.EmbeddedInputs()
		rep := e.run(t, t.Context(), opts)
		if got := countsOf(rep); got != st.want {
			t.Errorf("%s: report %+v, want %+v", st.name, got, st.want)
		}
		if rep.EmbedError != "" || rep.EmbedModel != "all-minilm" {
			t.Errorf("%s: embed error %q, model %q", st.name, rep.EmbedError, rep.EmbedModel)
		}
		if d := fake.EmbeddedInputs() - inputs; d != rep.ChunksEmbedded {
			t.Errorf("%s: server embedded %d inputs for %d new chunks", st.name, d, rep.ChunksEmbedded)
		}
		if rep.ChunksEmbedded == 0 && fake.Calls("/api/embed") != calls {
			t.Errorf("%s: %d embed calls with nothing to embed", st.name, fake.Calls("/api/embed")-calls)
		}
		check(t, e.idx)
		after := read(t, e.idx)
		if st.check != nil {
			st.check(t, before, after)
		}
		before = after
		if i == 0 && progress == 0 {
			t.Error("Progress never called")
		}
	}
}

func TestLocked(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	e.write(t, "a.md", []byte("text\n"))
	w, err := index.OpenWriter(t.Context(), e.idx, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := ingest.Run(t.Context(), e.options(opener(fake.URL))); !errors.Is(err, index.ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
}

// longDoc is a text file of long paragraphs of short unique words (letters
// only): each word is one token for the fake and one or two for rag's
// estimate, so chunks cut for a large context hold several hundred tokens.
func longDoc() (string, []string) {
	var b strings.Builder
	var words []string
	i := 0
	for range 8 {
		for range 30 {
			for w := range 10 {
				word := string([]byte{'a' + byte(i/676%26), 'a' + byte(i/26%26), 'a' + byte(i%26)})
				i++
				words = append(words, word)
				b.WriteString(word)
				if w < 9 {
					b.WriteByte(' ')
				}
			}
			b.WriteString(". ")
		}
		b.WriteString("\n\n")
	}
	return b.String(), words
}

// TestResplitsChunksTheModelRefuses: the server reports a context of 8192
// tokens but the model takes 100; chunks cut for the reported size are
// refused as too long and must be cut smaller and embedded, never truncated.
func TestResplitsChunksTheModelRefuses(t *testing.T) {
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "overstated", Embedding: true, Dim: 64, ContextLength: 100, ShowContextLength: 8192},
		ollamatest.Model{Name: "roomy", Embedding: true, Dim: 64, ContextLength: 8192})
	text, words := longDoc()

	ingestWith := func(model string) (*env, *ingest.Report) {
		e := newEnv(t, model)
		e.chunkTok = 400
		e.write(t, "long.txt", []byte(text))
		return e, e.run(t, t.Context(), e.options(opener(fake.URL)))
	}
	ref, refRep := ingestWith("roomy")
	if refRep.ChunksEmbedded == 0 {
		t.Fatal("reference ingest embedded nothing")
	}
	inputs := fake.EmbeddedInputs()
	e, rep := ingestWith("overstated")
	if len(rep.FailedFiles) != 0 || rep.Added != 1 {
		t.Fatalf("report %+v, failed %+v; want the file added", countsOf(rep), rep.FailedFiles)
	}
	if rep.ChunksPending != 0 {
		t.Errorf("%d chunks pending", rep.ChunksPending)
	}
	check(t, e.idx)
	s, sref := read(t, e.idx), read(t, ref.idx)
	if len(s.chunks) <= len(sref.chunks) {
		t.Errorf("%d chunks, want more than the %d cut for the reported context", len(s.chunks), len(sref.chunks))
	}
	if len(s.vecs) != len(s.chunks) {
		t.Errorf("%d vectors for %d chunks", len(s.vecs), len(s.chunks))
	}
	for _, c := range s.chunks {
		in := embedText("", c)
		if n := ollamatest.CountTokens(in); n > 100 {
			t.Errorf("stored chunk has %d tokens, over the model's 100: %.60q", n, in)
		}
		if !sameVector(s.vecs[c.ID], ollamatest.Embed(in, 64)) {
			t.Errorf("chunk %.40q: vector is not the embedding of its whole text", c.Text)
		}
	}
	if d := fake.EmbeddedInputs() - inputs; d != rep.ChunksEmbedded || d != len(s.chunks) {
		t.Errorf("server embedded %d inputs; report says %d, index holds %d chunks", d, rep.ChunksEmbedded, len(s.chunks))
	}
	all := s.texts()
	for _, w := range words {
		if !strings.Contains(all, w) {
			t.Errorf("word %s lost in the re-split", w)
			break
		}
	}
}

func TestOfflineThenOnline(t *testing.T) {
	// nomic-embed-text takes a document prefix: pending chunks must be
	// embedded later exactly as they would have been at once.
	nomic := ollamatest.Model{Name: "nomic-embed-text", Embedding: true, Dim: 384, ContextLength: 2048}
	fake := ollamatest.New(t, nomic)
	e := newEnv(t, "nomic-embed-text")
	files := map[string]string{
		"a.md":  "# Aardvarks\n\nAardvarks eat ants at night.\n",
		"b.txt": "Bumblebees buzz by the brook.\n",
		"c.md":  "Crocodiles crunch crackers.\n",
	}
	for name, text := range files {
		e.write(t, name, []byte(text))
	}
	// The same tree ingested with the server up, for reference.
	ref := newEnv(t, "nomic-embed-text")
	for name, text := range files {
		ref.write(t, name, []byte(text))
	}
	ref.run(t, t.Context(), ref.options(opener(fake.URL)))
	sref := read(t, ref.idx)

	rep := e.run(t, t.Context(), e.options(opener(closedHost(t))))
	if got, want := countsOf(rep), (counts{Added: 3, ChunksPending: 3}); got != want {
		t.Errorf("offline run: %+v, want %+v", got, want)
	}
	if rep.EmbedError == "" {
		t.Error("offline run: EmbedError not set")
	}
	check(t, e.idx)
	if s := read(t, e.idx); s.stats.Pending != 3 || len(s.vecs) != 0 {
		t.Errorf("offline index: %+v, %d vectors", s.stats, len(s.vecs))
	}

	// Change b.txt behind rag's back, keeping its size and time: a run that
	// re-read the files would index the new words.
	p := e.path("b.txt")
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.ToUpper(files["b.txt"])), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}

	inputs := fake.EmbeddedInputs()
	rep = e.run(t, t.Context(), e.options(opener(fake.URL)))
	if got, want := countsOf(rep), (counts{Unchanged: 3, ChunksEmbedded: 3}); got != want {
		t.Errorf("online run: %+v, want %+v", got, want)
	}
	if rep.EmbedError != "" {
		t.Errorf("online run: EmbedError = %q", rep.EmbedError)
	}
	if d := fake.EmbeddedInputs() - inputs; d != 3 {
		t.Errorf("server embedded %d inputs, want the 3 pending", d)
	}
	check(t, e.idx)
	s := read(t, e.idx)
	if s.stats.Pending != 0 || len(s.vecs) != 3 {
		t.Errorf("online index: %+v, %d vectors", s.stats, len(s.vecs))
	}
	if strings.Contains(s.texts(), "BUMBLEBEES") {
		t.Error("embedding pending chunks re-read the files")
	}
	refVec := map[string][]float32{}
	for _, c := range sref.chunks {
		refVec[filepath.Base(c.Path)+"\x00"+c.Text] = sref.vecs[c.ID]
	}
	for _, c := range s.chunks {
		want, ok := refVec[filepath.Base(c.Path)+"\x00"+c.Text]
		if !ok {
			t.Errorf("chunk %q not in the reference index", c.Text)
			continue
		}
		if !sameVector(s.vecs[c.ID], want) {
			t.Errorf("chunk %q: embedded later, its vector differs from one embedded at once", c.Text)
		}
	}
	// Nothing left to do.
	if rep := e.run(t, t.Context(), e.options(opener(fake.URL))); rep.ChunksEmbedded != 0 || rep.Unchanged != 3 {
		t.Errorf("third run: %+v", countsOf(rep))
	}
}

func TestServerGoesAwayMidRun(t *testing.T) {
	fake := ollamatest.NewServer(miniLM)
	defer fake.Close()
	e := newEnv(t, "all-minilm")
	const n = 6
	for i := range n {
		e.write(t, fmt.Sprintf("f%d.md", i), []byte(fmt.Sprintf("File number %d talks about topic%d.\n", i, i)))
	}
	opts := e.options(func(ctx context.Context, model string) (embed.Embedder, int, error) {
		return &hooked{Embedder: fresh{fake.URL, model}, after: func(int) { fake.Close() }}, 512, nil
	})
	opts.BatchSize, opts.Parallel = 1, 1
	rep, err := ingest.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("ingest: %v; want the rest stored pending", err)
	}
	if rep.Added != n || rep.ChunksEmbedded != 1 || rep.ChunksPending != n-1 || len(rep.FailedFiles) != 0 {
		t.Errorf("report %+v, want %d added, 1 embedded, %d pending", countsOf(rep), n, n-1)
	}
	if !strings.Contains(rep.EmbedError, "cannot reach") {
		t.Errorf("EmbedError = %q", rep.EmbedError)
	}
	check(t, e.idx)
	if s := read(t, e.idx); s.stats.Pending != n-1 || len(s.vecs) != 1 {
		t.Errorf("index %+v with %d vectors", s.stats, len(s.vecs))
	}

	back := ollamatest.New(t, miniLM)
	rep = e.run(t, t.Context(), e.options(opener(back.URL)))
	if got, want := countsOf(rep), (counts{Unchanged: n, ChunksEmbedded: n - 1}); got != want {
		t.Errorf("after restart: %+v, want %+v", got, want)
	}
	check(t, e.idx)
	if s := read(t, e.idx); s.stats.Pending != 0 || len(s.vecs) != n {
		t.Errorf("index %+v with %d vectors", s.stats, len(s.vecs))
	}
}

func TestCancelMidRun(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	const n = 6
	text := func(i int, v string) []byte {
		return []byte(fmt.Sprintf("File %d, version %s, about topic%d.\n", i, v, i))
	}
	for i := range n {
		e.write(t, fmt.Sprintf("f%d.md", i), text(i, "one"))
	}
	e.run(t, t.Context(), e.options(opener(fake.URL)))
	before := read(t, e.idx)
	for i := range n {
		e.write(t, fmt.Sprintf("f%d.md", i), text(i, "two"))
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := e.options(func(ctx context.Context, model string) (embed.Embedder, int, error) {
		emb, ctxLen, err := opener(fake.URL)(ctx, model)
		return &hooked{Embedder: emb, after: func(int) { cancel() }}, ctxLen, err
	})
	opts.BatchSize, opts.Parallel = 1, 1
	_, err := ingest.Run(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	check(t, e.idx)
	s := read(t, e.idx)
	if s.stats != before.stats || strings.Contains(s.texts(), "version two") {
		t.Errorf("a cancelled run changed the index: %+v, was %+v", s.stats, before.stats)
	}

	rep := e.run(t, t.Context(), e.options(opener(fake.URL)))
	if got, want := countsOf(rep), (counts{Updated: n, ChunksEmbedded: n}); got != want {
		t.Errorf("run after the cancel: %+v, want %+v", got, want)
	}
	check(t, e.idx)
	if s := read(t, e.idx); strings.Contains(s.texts(), "version one") || s.stats.Chunks != n {
		t.Errorf("index after the rerun: %+v\n%s", s.stats, s.texts())
	}
}

func makeDOCX(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("word/document.xml")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`+
		`<w:p><w:r><w:t>%s</w:t></w:r></w:p></w:body></w:document>`, text)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFailingFiles(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	e.write(t, "good.md", []byte("Good words live here.\n"))
	e.write(t, "report.docx", makeDOCX(t, "Quarterly revenue grew strongly."))
	e.write(t, "broken.docx", []byte("this is not a zip archive at all\n"))
	opts := e.options(opener(fake.URL))

	failed := func(rep *ingest.Report) []string {
		var out []string
		for _, p := range rep.FailedFiles {
			out = append(out, filepath.Base(p.Path))
			if p.Reason == "" {
				t.Errorf("%s failed without a reason", p.Path)
			}
			if !filepath.IsAbs(p.Path) {
				t.Errorf("failed path %q is not absolute", p.Path)
			}
		}
		return out
	}
	rep := e.run(t, t.Context(), opts)
	if got, want := countsOf(rep), (counts{Added: 2, Failed: 1, ChunksEmbedded: 2}); got != want {
		t.Errorf("first run: %+v, want %+v", got, want)
	}
	if got := failed(rep); !slices.Equal(got, []string{"broken.docx"}) {
		t.Errorf("failed = %q", got)
	}
	if rep.Failed != 1 {
		t.Errorf("Failed = %d", rep.Failed)
	}
	if s := read(t, e.idx); !strings.Contains(s.texts(), "Quarterly revenue") {
		t.Fatal("the good docx was not indexed")
	}

	// The indexed docx is now corrupt: it is reported and its old chunks stay.
	e.write(t, "report.docx", []byte("no longer a zip archive\n"))
	for _, run := range []string{"second run", "third run"} {
		rep = e.run(t, t.Context(), opts)
		if got, want := countsOf(rep), (counts{Unchanged: 1, Failed: 2}); got != want {
			t.Errorf("%s: %+v, want %+v", run, got, want)
		}
		if got := failed(rep); !slices.Equal(got, []string{"broken.docx", "report.docx"}) {
			t.Errorf("%s: failed = %q", run, got)
		}
		check(t, e.idx)
		s := read(t, e.idx)
		if c := s.byPath(e.path("report.docx")); len(c) != 1 || !strings.Contains(c[0].Text, "Quarterly revenue") {
			t.Errorf("%s: the failing file's old chunks = %+v, want them kept", run, c)
		}
	}
}

// TestServerGoesAwayWhileEmbeddingPending: the server stops while a run
// embeds chunks an earlier offline run left pending. What was embedded before
// it stopped is kept and counted; the rest stays pending.
func TestServerGoesAwayWhileEmbeddingPending(t *testing.T) {
	e := newEnv(t, "all-minilm")
	const n = 6
	for i := range n {
		e.write(t, fmt.Sprintf("f%d.md", i), []byte(fmt.Sprintf("File number %d talks about topic%d.\n", i, i)))
	}
	if rep := e.run(t, t.Context(), e.options(opener(closedHost(t)))); rep.ChunksPending != n {
		t.Fatalf("offline run: %+v", countsOf(rep))
	}

	fake := ollamatest.NewServer(miniLM)
	defer fake.Close()
	opts := e.options(func(ctx context.Context, model string) (embed.Embedder, int, error) {
		return &hooked{Embedder: fresh{fake.URL, model}, after: func(k int) {
			if k == 2 {
				fake.Close()
			}
		}}, 512, nil
	})
	opts.BatchSize, opts.Parallel = 1, 1
	rep, err := ingest.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	check(t, e.idx)
	s := read(t, e.idx)
	if len(s.vecs) != 2 || s.stats.Pending != n-2 {
		t.Errorf("index: %d vectors, %d pending; want 2 and %d", len(s.vecs), s.stats.Pending, n-2)
	}
	if rep.ChunksEmbedded != len(s.vecs) {
		t.Errorf("report says %d chunks embedded; the run stored %d vectors", rep.ChunksEmbedded, len(s.vecs))
	}
	if rep.EmbedError == "" {
		t.Error("EmbedError not set")
	}
	t.Logf("report after the server went away: %+v", countsOf(rep))
}

// TestServerFailsForGoodMidRun: the runner starts failing with a 500 after
// the first batch and never recovers; what was embedded stays embedded, the
// rest is stored pending, and the run reports why instead of failing.
func TestServerFailsForGoodMidRun(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	const n = 6
	for i := range n {
		e.write(t, fmt.Sprintf("f%d.md", i), []byte(fmt.Sprintf("File number %d talks about topic%d.\n", i, i)))
	}
	var once sync.Once
	opts := e.options(func(ctx context.Context, model string) (embed.Embedder, int, error) {
		c, err := ollama.New(fake.URL)
		if err != nil {
			return nil, 0, err
		}
		c.Timing.Retry.Budget = 200 * time.Millisecond // the adapter retries; its budget is not what is tested
		return &hooked{Embedder: &ollama.Embedder{Client: c, Name: model}, after: func(int) {
			once.Do(func() { fake.FailNext("/api/embed", 500, `{"error":"llama runner process has terminated"}`, 1<<30) })
		}}, 512, nil
	})
	opts.BatchSize, opts.Parallel = 1, 1
	rep, err := ingest.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("ingest: %v; want the rest stored pending", err)
	}
	if rep.Added != n || rep.ChunksEmbedded != 1 || rep.ChunksPending != n-1 {
		t.Errorf("report %+v, want %d added, 1 embedded, %d pending", countsOf(rep), n, n-1)
	}
	if !strings.Contains(rep.EmbedError, "llama runner process has terminated") {
		t.Errorf("EmbedError = %q", rep.EmbedError)
	}
	check(t, e.idx)
	if s := read(t, e.idx); s.stats.Pending != n-1 || len(s.vecs) != 1 {
		t.Errorf("index %+v with %d vectors", s.stats, len(s.vecs))
	}
}
