package index

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testDim = 8

var testSettings = Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}

// vec returns a deterministic, deliberately unnormalised vector.
func vec(seed int) []float32 {
	v := make([]float32, testDim)
	for i := range v {
		v[i] = float32((seed*7+i*3)%11) + 0.5
	}
	return v
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

// put builds a file of n chunks; chunk i's text is "<name> chunk i" and its
// terms carry "<name>" and "word<i>".
func put(name string, n, seed int, embedded bool) Put {
	p := Put{File: File{Path: "/docs/" + name, Size: int64(100 * n), ModTime: int64(seed), Hash: fmt.Sprintf("h%d", seed), Title: strings.ToUpper(name)}}
	for i := range n {
		p.Chunks = append(p.Chunks, Chunk{
			Title:     strings.ToUpper(name),
			Headings:  []string{"Top", fmt.Sprintf("Sec %d", i)},
			StartLine: 10*i + 1,
			EndLine:   10*i + 9,
			Page:      i,
			Text:      fmt.Sprintf("%s chunk %d", name, i),
			Terms:     fmt.Sprintf("%s word%d", name, i),
		})
		var v []float32
		if embedded {
			v = vec(seed + i)
		}
		p.Vectors = append(p.Vectors, v)
	}
	return p
}

func openW(t *testing.T, dir string) *Writer {
	t.Helper()
	w, err := OpenWriter(context.Background(), dir, testSettings, 0)
	if err != nil {
		t.Fatalf("OpenWriter: %v", err)
	}
	return w
}

func commit(t *testing.T, w *Writer, b *Batch) {
	t.Helper()
	if err := w.Commit(b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func openR(t *testing.T, dir string) *Reader {
	t.Helper()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// vectors returns the reader's live vectors by chunk id, copied.
func vectors(t *testing.T, r *Reader) map[uint64][]float32 {
	t.Helper()
	out := map[uint64][]float32{}
	err := r.EachVector(func(id uint64, v []float32) error {
		if _, dup := out[id]; dup {
			return fmt.Errorf("chunk %d visited twice", id)
		}
		out[id] = slices.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatalf("EachVector: %v", err)
	}
	if len(out) != r.LiveVectors() {
		t.Errorf("EachVector visited %d vectors, LiveVectors says %d", len(out), r.LiveVectors())
	}
	return out
}

// allChunks reads every chunk with its id, by path, in id order.
func allChunks(t *testing.T, r *Reader) map[string][]Chunk {
	t.Helper()
	rows, err := r.tx.Query(`SELECT ` + chunkCols + ` FROM chunks ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := scanChunks(rows)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Chunk{}
	for _, c := range cs {
		out[c.Path] = append(out[c.Path], c)
	}
	return out
}

func mustCheckOK(t *testing.T, dir string) *CheckReport {
	t.Helper()
	rep, err := Check(dir)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Check found problems: %q", rep.Problems)
	}
	return rep
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "idx")
	w := openW(t, dir)
	a, b := put("a.md", 3, 1, true), put("b.md", 2, 10, true)
	commit(t, w, &Batch{Puts: []Put{a, b}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r := openR(t, dir)
	m := r.Meta()
	if m.FormatVersion != FormatVersion || m.EmbedModel != "all-minilm" || m.Dim != testDim || m.ChunkTokens != 256 || m.VecSlots != 5 {
		t.Errorf("Meta = %+v", m)
	}
	if m.Created.IsZero() || m.LastIngest.IsZero() {
		t.Errorf("Meta times not set: %+v", m)
	}
	got := allChunks(t, r)
	vs := vectors(t, r)
	if len(vs) != 5 {
		t.Fatalf("%d vectors, want 5", len(vs))
	}
	for _, p := range []Put{a, b} {
		cs := got[p.File.Path]
		if len(cs) != len(p.Chunks) {
			t.Fatalf("%s: %d chunks, want %d", p.File.Path, len(cs), len(p.Chunks))
		}
		for i, c := range cs {
			w := p.Chunks[i]
			if c.ID != w.ID || c.Title != w.Title || !slices.Equal(c.Headings, w.Headings) || c.StartLine != w.StartLine ||
				c.EndLine != w.EndLine || c.Page != w.Page || c.Text != w.Text {
				t.Errorf("chunk %d of %s = %+v, want %+v", i, p.File.Path, c, w)
			}
			v, ok := vs[c.ID]
			if !ok {
				t.Errorf("chunk %d has no vector", c.ID)
				continue
			}
			if !near(v, unit(p.Vectors[i])) {
				t.Errorf("chunk %d vector = %v, want the unit vector %v", c.ID, v, unit(p.Vectors[i]))
			}
		}
	}
	// Chunks by id, in the order asked.
	ids := []uint64{b.Chunks[1].ID, a.Chunks[0].ID}
	cs, err := r.Chunks(ids)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Text != "b.md chunk 1" || cs[1].Text != "a.md chunk 0" {
		t.Errorf("Chunks(%v) = %+v", ids, cs)
	}
	if _, err := r.Chunks([]uint64{9999}); err == nil {
		t.Error("Chunks of a missing id: no error")
	}
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Chunks != 5 || st.Pending != 0 || st.SizeBytes <= 0 {
		t.Errorf("Stats = %+v", st)
	}

	// The writer remembers the files after reopening, and numbers on.
	w = openW(t, dir)
	defer w.Close()
	files := w.Files()
	if len(files) != 2 || files[a.File.Path] != a.File || files[b.File.Path] != b.File {
		t.Errorf("Files() after reopen = %+v", files)
	}
	c := put("c.md", 1, 20, true)
	commit(t, w, &Batch{Puts: []Put{c}})
	if c.Chunks[0].ID <= b.Chunks[1].ID {
		t.Errorf("new chunk id %d does not follow the old ones (max %d)", c.Chunks[0].ID, b.Chunks[1].ID)
	}
	mustCheckOK(t, dir)
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name  string
		batch func(old map[string]Put) *Batch
		// want: path -> chunk texts after the change
		want      map[string][]string
		wantFiles map[string]File
		vectors   int
		dead      int
	}{
		{
			name: "replace",
			batch: func(old map[string]Put) *Batch {
				p := put("a.md", 2, 50, true)
				p.Chunks[0].Text, p.Chunks[1].Text = "new a 0", "new a 1"
				p.File.Hash = "new"
				return &Batch{Puts: []Put{p}}
			},
			want:    map[string][]string{"/docs/a.md": {"new a 0", "new a 1"}, "/docs/b.md": {"b.md chunk 0", "b.md chunk 1"}},
			vectors: 4, dead: 3,
		},
		{
			name:    "delete",
			batch:   func(map[string]Put) *Batch { return &Batch{Deletes: []string{"/docs/a.md"}} },
			want:    map[string][]string{"/docs/b.md": {"b.md chunk 0", "b.md chunk 1"}},
			vectors: 2, dead: 3,
		},
		{
			name:  "delete unknown path",
			batch: func(map[string]Put) *Batch { return &Batch{Deletes: []string{"/docs/none.md"}} },
			want: map[string][]string{"/docs/a.md": {"a.md chunk 0", "a.md chunk 1", "a.md chunk 2"},
				"/docs/b.md": {"b.md chunk 0", "b.md chunk 1"}},
			vectors: 5,
		},
		{
			name: "touch",
			batch: func(old map[string]Put) *Batch {
				f := old["/docs/b.md"].File
				f.Size, f.ModTime = 4242, 777
				return &Batch{Touches: []File{f}}
			},
			want: map[string][]string{"/docs/a.md": {"a.md chunk 0", "a.md chunk 1", "a.md chunk 2"},
				"/docs/b.md": {"b.md chunk 0", "b.md chunk 1"}},
			wantFiles: map[string]File{"/docs/b.md": {Path: "/docs/b.md", Size: 4242, ModTime: 777, Hash: "h10", Title: "B.MD"}},
			vectors:   5,
		},
		{
			name: "replace one delete other",
			batch: func(old map[string]Put) *Batch {
				return &Batch{Puts: []Put{put("b.md", 1, 60, true)}, Deletes: []string{"/docs/a.md"}}
			},
			want:    map[string][]string{"/docs/b.md": {"b.md chunk 0"}},
			vectors: 1, dead: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openW(t, dir)
			a, b := put("a.md", 3, 1, true), put("b.md", 2, 10, true)
			commit(t, w, &Batch{Puts: []Put{a, b}})
			oldIDs := map[uint64]bool{}
			for _, p := range []Put{a, b} {
				for _, c := range p.Chunks {
					oldIDs[c.ID] = true
				}
			}
			commit(t, w, tt.batch(map[string]Put{a.File.Path: a, b.File.Path: b}))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			r := openR(t, dir)
			got := map[string][]string{}
			live := map[uint64]bool{}
			for p, cs := range allChunks(t, r) {
				for _, c := range cs {
					got[p] = append(got[p], c.Text)
					live[c.ID] = true
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("chunks = %v, want %v", got, tt.want)
			}
			vs := vectors(t, r)
			if len(vs) != tt.vectors {
				t.Errorf("%d live vectors, want %d", len(vs), tt.vectors)
			}
			for id := range vs {
				if !live[id] {
					t.Errorf("EachVector yields chunk %d, which is no longer stored", id)
				}
			}
			if dead := r.Meta().VecSlots - r.LiveVectors(); dead != tt.dead {
				t.Errorf("%d dead slots, want %d", dead, tt.dead)
			}
			mustCheckOK(t, dir)

			w = openW(t, dir)
			defer w.Close()
			files := w.Files()
			if len(files) != len(tt.want) {
				t.Errorf("Files() = %v, want the paths of %v", files, tt.want)
			}
			for p, f := range tt.wantFiles {
				if files[p] != f {
					t.Errorf("Files()[%s] = %+v, want %+v", p, files[p], f)
				}
			}
		})
	}
}

func TestPendingThenEmbedded(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	defer w.Close()
	if p, err := w.Pending(10); err != nil || len(p) != 0 {
		t.Fatalf("Pending on a new index = %v, %v", p, err)
	}
	a := put("a.md", 3, 1, true)
	a.Vectors[1] = nil // one chunk the server could not embed
	b := put("b.md", 2, 10, false)
	commit(t, w, &Batch{Puts: []Put{a, b}})

	pending, err := w.Pending(10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, c := range pending {
		ids = append(ids, c.ID)
	}
	want := []uint64{a.Chunks[1].ID, b.Chunks[0].ID, b.Chunks[1].ID}
	if !slices.Equal(ids, want) {
		t.Fatalf("Pending ids = %v, want %v", ids, want)
	}
	if pending[0].Text != "a.md chunk 1" || !slices.Equal(pending[0].Headings, []string{"Top", "Sec 1"}) {
		t.Errorf("pending chunk = %+v", pending[0])
	}
	if p, _ := w.Pending(2); len(p) != 2 {
		t.Errorf("Pending(2) returned %d chunks", len(p))
	}
	r := openR(t, dir)
	if st, _ := r.Stats(); st.Pending != 3 || st.Chunks != 5 {
		t.Errorf("Stats = %+v, want 3 pending of 5", st)
	}
	if n := r.LiveVectors(); n != 2 {
		t.Errorf("LiveVectors = %d, want 2", n)
	}
	if rep := mustCheckOK(t, dir); rep.Pending != 3 || rep.Vectors != 2 {
		t.Errorf("Check = %+v", rep)
	}

	// Embed two of them, and one whose chunk went away meanwhile.
	commit(t, w, &Batch{Deletes: []string{b.File.Path}})
	emb := map[uint64][]float32{a.Chunks[1].ID: vec(99), b.Chunks[0].ID: vec(98)}
	commit(t, w, &Batch{Embedded: emb})
	if p, err := w.Pending(10); err != nil || len(p) != 0 {
		t.Errorf("Pending after Embedded = %v, %v", p, err)
	}
	r2 := openR(t, dir)
	vs := vectors(t, r2)
	if len(vs) != 3 {
		t.Errorf("%d live vectors, want 3 (a.md's)", len(vs))
	}
	if !near(vs[a.Chunks[1].ID], unit(vec(99))) {
		t.Errorf("embedded vector = %v, want %v", vs[a.Chunks[1].ID], unit(vec(99)))
	}
	if _, ok := vs[b.Chunks[0].ID]; ok {
		t.Error("the vector of a deleted chunk is live")
	}
	mustCheckOK(t, dir)
}

func TestLexical(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	defer w.Close()
	a, b := put("alpha", 2, 1, true), put("beta", 2, 10, true)
	b.Chunks[1].Terms = "beta zebra"
	commit(t, w, &Batch{Puts: []Put{a, b}})

	tests := []struct {
		match string
		want  []uint64
	}{
		{"zebra", []uint64{b.Chunks[1].ID}},
		{"alpha", []uint64{a.Chunks[0].ID, a.Chunks[1].ID}},
		{"word0", []uint64{a.Chunks[0].ID, b.Chunks[0].ID}},
		{"nothing", nil},
		{"", nil},
	}
	r := openR(t, dir)
	for _, tt := range tests {
		hits, err := r.Lexical(tt.match, 10)
		if err != nil {
			t.Errorf("Lexical(%q): %v", tt.match, err)
			continue
		}
		var ids []uint64
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, tt.want) {
			t.Errorf("Lexical(%q) = %v, want %v", tt.match, ids, tt.want)
		}
	}
	if hits, _ := r.Lexical("alpha", 1); len(hits) != 1 {
		t.Errorf("Lexical(k=1) returned %d hits", len(hits))
	}

	commit(t, w, &Batch{Deletes: []string{b.File.Path}})
	r2 := openR(t, dir)
	if hits, err := r2.Lexical("zebra", 10); err != nil || len(hits) != 0 {
		t.Errorf("Lexical after deleting the file = %v, %v; want nothing", hits, err)
	}
	if hits, _ := r2.Lexical("alpha", 10); len(hits) != 2 {
		t.Errorf("Lexical(alpha) after deleting beta = %v", hits)
	}
	mustCheckOK(t, dir)
}

func TestSettingsMismatch(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir) // built with all-minilm, chosen implicitly, 256-token chunks
	commit(t, w, &Batch{Puts: []Put{put("a.md", 1, 1, true)}})
	w.Close()

	tests := []struct {
		name      string
		s         Settings
		wantErr   any // nil, or a pointer to the error type
		wantModel string
	}{
		{"same model implicit", Settings{EmbedModel: "all-minilm"}, nil, "all-minilm"},
		{"other model implicit keeps the index's", Settings{EmbedModel: "nomic-embed-text"}, nil, "all-minilm"},
		{"other model explicit", Settings{EmbedModel: "nomic-embed-text", EmbedExplicit: true}, new(*ModelMismatchError), ""},
		{"same model explicit with tag", Settings{EmbedModel: "All-MiniLM:latest", EmbedExplicit: true}, nil, "all-minilm"},
		{"other tag explicit", Settings{EmbedModel: "all-minilm:l6-v2", EmbedExplicit: true}, new(*ModelMismatchError), ""},
		{"chunk size kept", Settings{EmbedModel: "all-minilm", ChunkTokens: 0, DefaultChunkTokens: 512}, nil, "all-minilm"},
		{"chunk size same", Settings{EmbedModel: "all-minilm", ChunkTokens: 256}, nil, "all-minilm"},
		{"chunk size differs", Settings{EmbedModel: "all-minilm", ChunkTokens: 512}, new(*SettingsMismatchError), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := OpenWriter(context.Background(), dir, tt.s, 0)
			if tt.wantErr != nil {
				if err == nil {
					w.Close()
					t.Fatal("OpenWriter succeeded, want an error")
				}
				switch target := tt.wantErr.(type) {
				case **ModelMismatchError:
					if !errors.As(err, target) || (*target).Indexed != "all-minilm" {
						t.Errorf("err = %v, want a *ModelMismatchError naming all-minilm", err)
					}
				case **SettingsMismatchError:
					if !errors.As(err, target) || (*target).Indexed != 256 || (*target).Wanted != 512 {
						t.Errorf("err = %v, want a *SettingsMismatchError 256 vs 512", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenWriter: %v", err)
			}
			defer w.Close()
			if m := w.Meta(); m.EmbedModel != tt.wantModel || m.ChunkTokens != 256 {
				t.Errorf("Meta = %+v, want model %s and 256-token chunks", m, tt.wantModel)
			}
		})
	}
	// The lock is not left held by a refused open.
	w, err := OpenWriter(context.Background(), dir, testSettings, 0)
	if err != nil {
		t.Fatalf("OpenWriter after refused opens: %v", err)
	}
	w.Close()
}

func TestNewIndexTakesRequestedSettings(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(context.Background(), dir, Settings{EmbedModel: " nomic-embed-text ", ChunkTokens: 128, DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, w, &Batch{Puts: []Put{put("a.md", 1, 1, true)}})
	w.Close()
	if m := openR(t, dir).Meta(); m.EmbedModel != "nomic-embed-text" || m.ChunkTokens != 128 {
		t.Errorf("Meta = %+v", m)
	}
}

// copyDir copies the regular files of src into a new folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// rawExec runs SQL on an index's database behind its back.
func rawExec(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DBFile)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestFormatVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 1, 1, true)}})
	w.Close()
	old := copyDir(t, dir)
	rawExec(t, old, `UPDATE meta SET value='1' WHERE key='format_version'`)

	_, err := OpenReader(old)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Found != 1 {
		t.Errorf("OpenReader of a version-1 index: %v, want *FormatError{Found: 1}", err)
	}
	_, err = OpenWriter(context.Background(), old, testSettings, 0)
	if !errors.As(err, &fe) || fe.Found != 1 {
		t.Errorf("OpenWriter of a version-1 index: %v, want *FormatError{Found: 1}", err)
	}
	if _, err := Check(old); !errors.As(err, &fe) {
		t.Errorf("Check of a version-1 index: %v, want *FormatError", err)
	}
	// The original is untouched.
	mustCheckOK(t, dir)
}

func TestNoIndex(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReader(dir); !errors.Is(err, ErrNoIndex) {
		t.Errorf("OpenReader of an empty folder: %v, want ErrNoIndex", err)
	}
	if _, err := Check(filepath.Join(dir, "missing")); !errors.Is(err, ErrNoIndex) {
		t.Errorf("Check of a missing folder: %v, want ErrNoIndex", err)
	}
	// A writer that never commits leaves no index behind.
	w := openW(t, dir)
	w.Close()
	if _, err := OpenReader(dir); !errors.Is(err, ErrNoIndex) {
		t.Errorf("OpenReader after a writer that committed nothing: %v, want ErrNoIndex", err)
	}
}

// A run killed during its first commit, after creating index.db but before
// (or while) creating the schema, must not break the next run.
func TestCommitAfterRunDiedCreatingSchema(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"empty database file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, DBFile), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta table only", func(t *testing.T, dir string) {
			rawExec(t, dir, `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			if _, err := OpenReader(dir); !errors.Is(err, ErrNoIndex) {
				t.Errorf("OpenReader: %v, want ErrNoIndex", err)
			}
			w := openW(t, dir)
			defer w.Close()
			if err := w.Commit(&Batch{Puts: []Put{put("a.md", 2, 1, true)}}); err != nil {
				t.Fatalf("first commit after a run that died creating the index: %v", err)
			}
			if n := openR(t, dir).LiveVectors(); n != 2 {
				t.Errorf("LiveVectors = %d, want 2", n)
			}
			mustCheckOK(t, dir)
		})
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	w1 := openW(t, dir)
	for _, wait := range []time.Duration{0, 120 * time.Millisecond} {
		w2, err := OpenWriter(context.Background(), dir, testSettings, wait)
		if !errors.Is(err, ErrLocked) {
			if err == nil {
				w2.Close()
			}
			t.Errorf("second OpenWriter (wait %v): %v, want ErrLocked", wait, err)
		}
	}
	// A reader is never blocked by the writer.
	commit(t, w1, &Batch{Puts: []Put{put("a.md", 1, 1, true)}})
	if r := openR(t, dir); r.LiveVectors() != 1 {
		t.Errorf("reader beside a writer sees %d vectors", r.LiveVectors())
	}
	// A cancelled wait reports the cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenWriter(ctx, dir, testSettings, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenWriter with a cancelled context: %v, want context.Canceled", err)
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w3, err := OpenWriter(context.Background(), dir, testSettings, 0)
	if err != nil {
		t.Fatalf("OpenWriter after the first closed: %v", err)
	}
	w3.Close()

	// A waiting writer gets the lock when the holder lets go.
	w4 := openW(t, dir)
	go func() { time.Sleep(100 * time.Millisecond); w4.Close() }()
	w5, err := OpenWriter(context.Background(), dir, testSettings, time.Minute)
	if err != nil {
		t.Fatalf("waiting OpenWriter: %v", err)
	}
	w5.Close()
}

func TestReaderSnapshot(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	defer w.Close()
	a := put("a.md", 3, 1, true)
	commit(t, w, &Batch{Puts: []Put{a}})

	old := openR(t, dir)
	oldVecs := vectors(t, old) // read before the commit, kept across it

	// Replace a.md (its slots die), add b.md, embedded and pending.
	a2 := put("a.md", 1, 40, true)
	b := put("b.md", 4, 50, true)
	b.Vectors[3] = nil
	commit(t, w, &Batch{Puts: []Put{a2, b}})
	commit(t, w, &Batch{Deletes: []string{"/docs/zzz"}, Touches: []File{b.File}})

	st, err := old.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 3 || st.Files != 1 || st.Pending != 0 {
		t.Errorf("old reader Stats = %+v, want the old 3 chunks of 1 file", st)
	}
	if m := old.Meta(); m.VecSlots != 3 {
		t.Errorf("old reader VecSlots = %d", m.VecSlots)
	}
	again := vectors(t, old)
	if len(again) != 3 {
		t.Errorf("old reader sees %d vectors after the commit, want 3", len(again))
	}
	for id, v := range oldVecs {
		if !near(again[id], v) {
			t.Errorf("old reader's vector of chunk %d changed", id)
		}
	}
	cs, err := old.Chunks([]uint64{a.Chunks[2].ID})
	if err != nil || cs[0].Text != "a.md chunk 2" {
		t.Errorf("old reader Chunks = %v, %v", cs, err)
	}
	if hits, _ := old.Lexical("b.md", 10); len(hits) != 0 {
		t.Errorf("old reader finds the new file: %v", hits)
	}

	cur := openR(t, dir)
	st, err = cur.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 5 || st.Files != 2 || st.Pending != 1 {
		t.Errorf("new reader Stats = %+v, want 5 chunks, 2 files, 1 pending", st)
	}
	vs := vectors(t, cur)
	if len(vs) != 4 {
		t.Errorf("new reader sees %d vectors, want 4", len(vs))
	}
	for id := range oldVecs {
		if _, ok := vs[id]; ok {
			t.Errorf("new reader sees the replaced chunk %d", id)
		}
	}
	if _, err := cur.Chunks([]uint64{a.Chunks[2].ID}); err == nil {
		t.Error("new reader still has the replaced chunk")
	}
	mustCheckOK(t, dir)
}

func vecFile(t *testing.T, dir string) string {
	t.Helper()
	r := openR(t, dir)
	return vecPath(dir, r.Meta().VecGen)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestTornTail(t *testing.T) {
	for _, garbage := range []int{1, 100, int(recordSize(testDim)), 3*int(recordSize(testDim)) + 5} {
		t.Run(fmt.Sprint(garbage), func(t *testing.T) {
			dir := t.TempDir()
			w := openW(t, dir)
			a := put("a.md", 3, 1, true)
			commit(t, w, &Batch{Puts: []Put{a}})
			w.Close()
			vf := vecFile(t, dir)
			committed := fileSize(t, vf)
			if want := vecHeaderSize + 3*recordSize(testDim); committed != want {
				t.Fatalf("vector file is %d bytes, want %d", committed, want)
			}
			// What a run killed between writing vectors and committing leaves.
			f, err := os.OpenFile(vf, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			junk := make([]byte, garbage)
			for i := range junk {
				junk[i] = byte(i*31 + 7)
			}
			if _, err := f.Write(junk); err != nil {
				t.Fatal(err)
			}
			f.Close()

			r := openR(t, dir)
			if vs := vectors(t, r); len(vs) != 3 {
				t.Errorf("reader sees %d vectors with a torn tail, want 3", len(vs))
			}
			mustCheckOK(t, dir)

			w = openW(t, dir)
			if got := fileSize(t, vf); got != committed {
				t.Errorf("after a writer opened, vector file is %d bytes, want the committed %d", got, committed)
			}
			b := put("b.md", 2, 10, true)
			commit(t, w, &Batch{Puts: []Put{b}})
			w.Close()
			if got, want := fileSize(t, vf), committed+2*recordSize(testDim); got != want {
				t.Errorf("after the next commit, vector file is %d bytes, want %d", got, want)
			}
			vs := vectors(t, openR(t, dir))
			if len(vs) != 5 || !near(vs[b.Chunks[1].ID], unit(b.Vectors[1])) {
				t.Errorf("after the next commit: %d vectors, b.md's second = %v", len(vs), vs[b.Chunks[1].ID])
			}
			mustCheckOK(t, dir)
		})
	}
}

func TestShortVectorFileIsDamage(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 3, 1, true)}})
	w.Close()
	vf := vecFile(t, dir)
	if err := os.Truncate(vf, fileSize(t, vf)-10); err != nil {
		t.Fatal(err)
	}
	// The words stay readable; the vectors say they are damaged.
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatalf("OpenReader of an index whose vector file lost its end: %v", err)
	}
	err = r.EachVector(func(uint64, []float32) error { return nil })
	r.Close()
	if _, ok := errors.AsType[*DamagedError](err); !ok {
		t.Errorf("EachVector on a short vector file: %v, want a *DamagedError", err)
	}
	if rep, err := Check(dir); err != nil || rep.OK() {
		t.Errorf("Check of a short vector file: %v, %+v; want a problem", err, rep)
	}
	if _, err := OpenWriter(context.Background(), dir, testSettings, 0); err == nil {
		t.Error("OpenWriter of an index whose vector file lost its end: no error")
	}
}

func TestCheckDetectsDamage(t *testing.T) {
	rec := recordSize(testDim)
	tests := []struct {
		name   string
		damage func(t *testing.T, dir, vf string, ids []uint64)
		want   string // a word of the problem
	}{
		{"vector id overwritten", func(t *testing.T, dir, vf string, ids []uint64) {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], 987654)
			writeAt(t, vf, b[:], vecHeaderSize+1*rec)
		}, "orphan"},
		{"vector ids swapped", func(t *testing.T, dir, vf string, ids []uint64) {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], ids[2])
			writeAt(t, vf, b[:], vecHeaderSize+0*rec)
		}, "slot"},
		{"NaN in a vector", func(t *testing.T, dir, vf string, ids []uint64) {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(math.NaN())))
			writeAt(t, vf, b[:], vecHeaderSize+2*rec+8+4*3)
		}, "non-finite"},
		{"vector not unit length", func(t *testing.T, dir, vf string, ids []uint64) {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(5))
			writeAt(t, vf, b[:], vecHeaderSize+2*rec+8)
		}, "length"},
		{"chunk row deleted", func(t *testing.T, dir, vf string, ids []uint64) {
			rawExec(t, dir, fmt.Sprintf(`DELETE FROM chunks WHERE id=%d`, ids[1]))
		}, "orphan"},
		{"file row deleted", func(t *testing.T, dir, vf string, ids []uint64) {
			rawExec(t, dir, `DELETE FROM files WHERE path='/docs/a.md'`)
		}, "no file"},
		{"slot past the end", func(t *testing.T, dir, vf string, ids []uint64) {
			rawExec(t, dir, fmt.Sprintf(`UPDATE chunks SET slot=100 WHERE id=%d`, ids[0]))
		}, "not live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openW(t, dir)
			a := put("a.md", 3, 1, true)
			commit(t, w, &Batch{Puts: []Put{a}})
			w.Close()
			mustCheckOK(t, dir)
			vf := vecFile(t, dir)
			tt.damage(t, dir, vf, []uint64{a.Chunks[0].ID, a.Chunks[1].ID, a.Chunks[2].ID})
			rep, err := Check(dir)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if rep.OK() {
				t.Fatal("Check found no problem")
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tt.want) {
				t.Errorf("problems %q do not mention %q", rep.Problems, tt.want)
			}
		})
	}
}

func writeAt(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestPermissions(t *testing.T) {
	// Not parallel: the umask belongs to the whole process.
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "a", "idx")
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 2, 1, true)}})
	vf := vecPath(dir, w.Meta().VecGen)
	checkMode := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			return
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", filepath.Base(path), got, want)
		}
	}
	checkMode(dir, 0o700)
	checkMode(filepath.Join(dir, DBFile), 0o600)
	checkMode(vf, 0o600)
	checkMode(filepath.Join(dir, LockFile), 0o600)
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(dir, DBFile) + side); err == nil {
			checkMode(filepath.Join(dir, DBFile)+side, 0o600)
		}
	}
	w.Close()

	// An existing folder with loose permissions is tightened.
	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(loose, 0o777); err != nil {
		t.Fatal(err)
	}
	w = openW(t, loose)
	w.Close()
	checkMode(loose, 0o700)
}

// snapshotOf summarises an index's content for before/after comparisons.
func snapshotOf(t *testing.T, dir string) string {
	t.Helper()
	r := openR(t, dir)
	var sb strings.Builder
	byPath := allChunks(t, r)
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		for _, c := range byPath[p] {
			fmt.Fprintf(&sb, "%s|%d|%s;", p, c.ID, c.Text)
		}
	}
	vs := vectors(t, r)
	for _, id := range slices.Sorted(maps.Keys(vs)) {
		fmt.Fprintf(&sb, "%d:%v;", id, vs[id])
	}
	st, _ := r.Stats()
	fmt.Fprintf(&sb, "files=%d chunks=%d pending=%d", st.Files, st.Chunks, st.Pending)
	return sb.String()
}

func TestFailedCommitKeepsIndex(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		batch func() *Batch
	}{
		{"NaN vector", nil, func() *Batch {
			p := put("c.md", 2, 30, true)
			p.Vectors[1][2] = nan
			return &Batch{Puts: []Put{p}, Deletes: []string{"/docs/a.md"}}
		}},
		{"infinite vector", nil, func() *Batch {
			p := put("c.md", 1, 30, true)
			p.Vectors[0][0] = float32(math.Inf(1))
			return &Batch{Puts: []Put{p}}
		}},
		{"zero vector", nil, func() *Batch {
			p := put("c.md", 1, 30, true)
			p.Vectors[0] = make([]float32, testDim)
			return &Batch{Puts: []Put{p}}
		}},
		{"wrong dimension", nil, func() *Batch {
			p := put("c.md", 1, 30, true)
			p.Vectors[0] = p.Vectors[0][:testDim-1]
			return &Batch{Puts: []Put{p}, Touches: []File{{Path: "/docs/b.md", Size: 1}}}
		}},
		{"chunks without vectors", nil, func() *Batch {
			p := put("c.md", 2, 30, true)
			p.Vectors = p.Vectors[:1]
			return &Batch{Puts: []Put{p}}
		}},
		{"NaN in Embedded", nil, func() *Batch {
			return &Batch{Embedded: map[uint64][]float32{1: {nan, 1, 1, 1, 1, 1, 1, 1}}, Deletes: []string{"/docs/b.md"}}
		}},
		{
			// The database refuses the transaction after the vectors were
			// written and synced: they are a torn tail, never referenced.
			"database refuses",
			func(t *testing.T, dir string) {
				rawExec(t, dir, `CREATE TRIGGER refuse BEFORE INSERT ON chunks WHEN NEW.text LIKE '%refuse%' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
			},
			func() *Batch {
				p := put("c.md", 3, 30, true)
				p.Chunks[2].Text = "refuse me"
				return &Batch{Puts: []Put{p}, Deletes: []string{"/docs/a.md"}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openW(t, dir)
			commit(t, w, &Batch{Puts: []Put{put("a.md", 2, 1, true), put("b.md", 2, 10, true)}})
			w.Close()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			before := snapshotOf(t, dir)

			w = openW(t, dir)
			if err := w.Commit(tt.batch()); err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			// The same writer goes on working, and so does the index.
			if after := snapshotOf(t, dir); after != before {
				t.Errorf("index changed by a failed commit:\nbefore %s\nafter  %s", before, after)
			}
			mustCheckOK(t, dir)
			if len(w.Files()) != 2 {
				t.Errorf("writer's Files() = %v after a failed commit", w.Files())
			}
			d := put("d.md", 2, 70, true)
			commit(t, w, &Batch{Puts: []Put{d}})
			w.Close()
			r := openR(t, dir)
			vs := vectors(t, r)
			if len(vs) != 6 || !near(vs[d.Chunks[1].ID], unit(d.Vectors[1])) {
				t.Errorf("after the next commit: %d vectors (want 6), d.md's second = %v", len(vs), vs[d.Chunks[1].ID])
			}
			if st, _ := r.Stats(); st.Files != 3 || st.Chunks != 6 {
				t.Errorf("after the next commit: Stats = %+v", st)
			}
			mustCheckOK(t, dir)
		})
	}
}

func TestReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores folder permissions; TestFailedCommitKeepsIndex covers failed writes")
	}
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 2, 1, true)}})
	w.Close()
	before := snapshotOf(t, dir)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if w, err := OpenWriter(context.Background(), dir, testSettings, 0); err == nil {
		err = w.Commit(&Batch{Puts: []Put{put("b.md", 2, 10, true)}})
		w.Close()
		if err == nil {
			t.Log("commit into a read-only folder succeeded (files were writable)")
		}
	}
	os.Chmod(dir, 0o700)
	if after := snapshotOf(t, dir); !strings.Contains(after, "a.md") || (after != before && !strings.Contains(after, "b.md")) {
		t.Errorf("index damaged by a write into a read-only folder:\nbefore %s\nafter  %s", before, after)
	}
	mustCheckOK(t, dir)
}

func TestMarkIngested(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 1, 1, true)}})
	first := w.Meta().LastIngest
	time.Sleep(2 * time.Millisecond)
	if err := w.MarkIngested(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	m := openR(t, dir).Meta()
	if !m.LastIngest.After(first) || m.VecSlots != 1 || m.Dim != testDim {
		t.Errorf("Meta after MarkIngested = %+v (first ingest %v)", m, first)
	}

	// On a new index it creates an empty, valid one.
	empty := t.TempDir()
	w = openW(t, empty)
	if err := w.MarkIngested(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r := openR(t, empty)
	if m := r.Meta(); m.Dim != 0 || m.LastIngest.IsZero() {
		t.Errorf("Meta of an empty ingested index = %+v", m)
	}
	if n := r.LiveVectors(); n != 0 {
		t.Errorf("LiveVectors = %d", n)
	}
	mustCheckOK(t, empty)
}

func TestNormalizeModel(t *testing.T) {
	tests := map[string]string{
		"all-minilm":            "all-minilm:latest",
		" All-MiniLM ":          "all-minilm:latest",
		"all-minilm:latest":     "all-minilm:latest",
		"nomic-embed-text:v1.5": "nomic-embed-text:v1.5",
		"host:5000/ns/model":    "host:5000/ns/model:latest",
		"":                      "",
	}
	for in, want := range tests {
		if got := NormalizeModel(in); got != want {
			t.Errorf("NormalizeModel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMigrateFromVersion2: a version-2 index (no roots, no chunk keys) is
// read as it is, and a writer migrates it in place, computing the keys of
// the chunks it already holds.
func TestMigrateFromVersion2(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 3, 1, true)}, Roots: []Root{{Path: "/docs", Dev: 7, IsDir: true}}})
	w.Close()
	rawExec(t, dir, `DROP TABLE roots`, `DROP INDEX chunks_vkey`, `ALTER TABLE chunks DROP COLUMN vkey`,
		`UPDATE meta SET value='2' WHERE key='format_version'`)

	r := openR(t, dir)
	if roots, err := r.Roots(); err != nil || len(roots) != 0 {
		t.Errorf("Roots of a version-2 index = %v, %v", roots, err)
	}
	if n := r.LiveVectors(); n != 3 {
		t.Errorf("LiveVectors of a version-2 index = %d", n)
	}
	r.Close()

	s := testSettings
	s.ChunkKey = func(model string, c Chunk) []byte { return []byte(model + "|" + c.Text) }
	w, err := OpenWriter(context.Background(), dir, s, 0)
	if err != nil {
		t.Fatalf("OpenWriter of a version-2 index: %v", err)
	}
	if v := w.Meta().FormatVersion; v != FormatVersion {
		t.Errorf("format after migration = %d", v)
	}
	chunks := allChunks(t, openR(t, dir))["/docs/a.md"]
	keys := make([][]byte, len(chunks))
	for i, c := range chunks {
		keys[i] = s.ChunkKey(testSettings.EmbedModel, c)
	}
	got, err := w.VectorsByKey(keys)
	if len(keys) != 3 || err != nil || len(got) != 3 {
		t.Errorf("VectorsByKey after migration: %d vectors, %v", len(got), err)
	}
	w.Close()
	mustCheckOK(t, dir)
}

// TestMigrateFromVersion3: a version-3 index has no indexed_at; readers list
// its files with the time unknown, and a writer adds the column, after which
// a file it stores records when it was read.
func TestMigrateFromVersion3(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 2, 1, true)}})
	w.Close()
	rawExec(t, dir, `ALTER TABLE files DROP COLUMN indexed_at`, `UPDATE meta SET value='3' WHERE key='format_version'`)

	r := openR(t, dir)
	files, err := r.ListFiles("/docs")
	if err != nil || len(files) != 1 || files[0].Indexed != nil {
		t.Fatalf("ListFiles of a version-3 index = %+v, %v; want one file with no indexed time", files, err)
	}
	r.Close()

	before := time.Now()
	w = openW(t, dir)
	if v := w.Meta().FormatVersion; v != FormatVersion {
		t.Errorf("format after migration = %d", v)
	}
	commit(t, w, &Batch{Puts: []Put{put("b.md", 1, 2, true)}})
	w.Close()
	files, err = openR(t, dir).ListFiles("/docs")
	if err != nil || len(files) != 2 {
		t.Fatalf("ListFiles after migration = %+v, %v", files, err)
	}
	if files[0].Indexed != nil {
		t.Errorf("a.md, stored before the migration, has indexed time %v", files[0].Indexed)
	}
	if files[1].Indexed == nil || files[1].Indexed.Before(before.Add(-time.Second)) {
		t.Errorf("b.md indexed at %v, want about now", files[1].Indexed)
	}
	mustCheckOK(t, dir)
}
