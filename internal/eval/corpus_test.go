package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteCorpus(t *testing.T) {
	ids := []string{
		"plain-id_1", "a/b", `a\b`, "../../etc/passwd", ".hidden", "a b", "Ab", "ab", "AB",
		"CON", "nul", "", "日本", strings.Repeat("x", 300), strings.Repeat("x", 301), "a_b",
		"secret.pem", ".env", "id_rsa",
	}
	c := &Collection{}
	for i, id := range ids {
		d := Doc{ID: id, Text: "text " + id}
		if i%2 == 0 {
			d.Title = "Title " + id
		}
		c.Docs = append(c.Docs, d)
	}
	dir := filepath.Join(t.TempDir(), "corpus")
	docOf, err := WriteCorpus(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(ids) {
		t.Fatalf("wrote %d files, want %d", len(entries), len(ids))
	}
	lower := map[string]bool{}
	got := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".txt") || strings.HasPrefix(name, ".") || len(name) > 128 {
			t.Errorf("unsafe file name %q", name)
		}
		if strings.ContainsAny(strings.TrimSuffix(name, ".txt"), `/\:*?"<>|. `) {
			t.Errorf("file name %q has an odd character", name)
		}
		if lower[strings.ToLower(name)] {
			t.Errorf("file name %q collides ignoring case", name)
		}
		lower[strings.ToLower(name)] = true
		p := filepath.Join(dir, name)
		id, ok := docOf(p)
		if !ok {
			t.Errorf("docOf(%q) not found", p)
			continue
		}
		got[id] = true
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := "text " + id + "\n"
		for i, x := range ids {
			if x == id && i%2 == 0 {
				want = "Title " + id + "\n\n" + want
			}
		}
		if string(body) != want {
			t.Errorf("%s holds %q, want %q", name, body, want)
		}
	}
	if len(got) != len(ids) {
		t.Errorf("docOf maps back %d ids, want %d", len(got), len(ids))
	}
	if id, ok := docOf(filepath.Join(dir, "plain-id_1.txt")); !ok || id != "plain-id_1" {
		t.Errorf("clean id file name: docOf = %q, %v", id, ok)
	}
	for _, p := range []string{filepath.Join(dir, "missing.txt"), filepath.Join(t.TempDir(), "plain-id_1.txt"), "plain-id_1.txt"} {
		if id, ok := docOf(p); ok {
			t.Errorf("docOf(%q) = %q, want not found", p, id)
		}
	}
}

func TestWriteCorpusPathForms(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	link := filepath.Join(root, "link")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	docOf, err := WriteCorpus(&Collection{Docs: []Doc{{ID: "d1", Text: "x"}}}, link)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(link, "d1.txt"),
		filepath.Join(real, "d1.txt"),
		filepath.Join(link, "sub", "..", "d1.txt"),
	} {
		if id, ok := docOf(p); !ok || id != "d1" {
			t.Errorf("docOf(%q) = %q, %v; want d1", p, id, ok)
		}
	}
}

func TestWriteCorpusDuplicateID(t *testing.T) {
	c := &Collection{Docs: []Doc{{ID: "a"}, {ID: "a"}}}
	if _, err := WriteCorpus(c, t.TempDir()); err == nil || !strings.Contains(err.Error(), "duplicate doc id") {
		t.Errorf("err = %v, want duplicate doc id", err)
	}
}

func TestDocBody(t *testing.T) {
	tests := []struct {
		doc  Doc
		want string
	}{
		{Doc{Title: "T", Text: "body"}, "T\n\nbody\n"},
		{Doc{Text: "body"}, "body\n"},
		{Doc{Title: "T"}, "T\n"},
		{Doc{}, ""},
	}
	for _, tt := range tests {
		if got := string(docBody(tt.doc)); got != tt.want {
			t.Errorf("docBody(%+v) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}

func TestDocRanking(t *testing.T) {
	docOf := func(p string) (string, bool) {
		m := map[string]string{"/c/a1": "a", "/c/a2": "a", "/c/b": "b", "/c/c": "c"}
		id, ok := m[p]
		return id, ok
	}
	tests := []struct {
		name  string
		paths []string
		want  Ranking
	}{
		{"empty", nil, Ranking{}},
		{"one chunk per doc", []string{"/c/b", "/c/a1"}, Ranking{"b", "a"}},
		{"chunks of one doc collapse at best rank", []string{"/c/a1", "/c/b", "/c/a1", "/c/a2", "/c/c"}, Ranking{"a", "b", "c"}},
		{"unknown paths skipped", []string{"/other", "/c/c", "/c/zz", "/c/b"}, Ranking{"c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DocRanking(tt.paths, docOf); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DocRanking = %q, want %q", got, tt.want)
			}
		})
	}
}
