package eval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
)

// generatedIndex builds an index of docs files of 3 chunks each, every chunk
// with words of its own.
func generatedIndex(t *testing.T, docs int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "index")
	w, err := index.OpenWriter(context.Background(), dir, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &index.Batch{}
	for d := range docs {
		p := index.Put{File: index.File{Path: fmt.Sprintf("/docs/doc-%02d.md", d), Size: 100, ModTime: 1, Hash: fmt.Sprint(d)}}
		for c := range 3 {
			extra := ""
			switch {
			case d == 1 && c == 0:
				extra = " marker-duplicate"
			case d == 2 && c == 1:
				extra = " marker-verbatim"
			}
			text := fmt.Sprintf("Document %d part %d tells how the widget%d%d frobnicates the gadget%d%d under load when the operator asks for it%s.", d, c, d, c, d, c, extra)
			p.Chunks = append(p.Chunks, index.Chunk{Title: "doc", StartLine: 10*c + 1, EndLine: 10*c + 9, Text: text})
			p.Vectors = append(p.Vectors, unit(d*3+c))
		}
		b.Puts = append(b.Puts, p)
	}
	if err := w.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func unit(i int) []float32 {
	v := make([]float32, 8)
	v[i%8] = 1
	return v
}

// questionWriter is the fake chat model: a question of its own per passage,
// the same question for every passage marked duplicate, and the passage
// itself as the question when it is marked verbatim.
func questionWriter(req api.ChatRequest) string {
	msg := req.Messages[len(req.Messages)-1].Content
	passage := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(msg, "<passage>"), "</passage>"))
	q := "Which gadget does " + strings.Fields(passage)[7] + " act on?"
	switch {
	case strings.Contains(passage, "marker-duplicate"):
		q = "Which gadget does widget00 act on?" // as doc 0's first chunk
	case strings.Contains(passage, "marker-verbatim"):
		q = passage + "?"
	}
	b, _ := json.Marshal(map[string]string{"question": q, "answer": "It acts on a gadget."})
	return string(b)
}

func generate(t *testing.T, dir string, srv *ollamatest.Server, n int, seed uint64, out string) *eval.QuestionSet {
	t.Helper()
	r, err := index.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := ollama.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	set, err := eval.Generate(context.Background(), r, c, eval.GenerateOptions{N: n, Seed: seed, TestFraction: 0.3, Model: "llama3.2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(out); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestGenerateSplitsByDocument(t *testing.T) {
	dir := generatedIndex(t, 10)
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2"})
	srv.SetChatReply(questionWriter)
	out := t.TempDir()
	set := generate(t, dir, srv, 30, 7, out)

	m := set.Manifest
	if m.Sampled != 30 || m.Requested != 30 {
		t.Errorf("sampled %d of %d, want 30 of 30", m.Sampled, m.Requested)
	}
	if m.Dropped.Duplicate != 1 || m.Dropped.Verbatim != 1 || m.Dropped.Failed != 0 {
		t.Errorf("dropped %+v, want 1 duplicate and 1 verbatim", m.Dropped)
	}
	if got := len(set.Train) + len(set.Test); got != 28 {
		t.Errorf("%d questions, want 28", got)
	}
	if m.Test.Documents != 3 || m.Train.Documents != 7 {
		t.Errorf("documents: train %d, test %d; want 7 and 3", m.Train.Documents, m.Test.Documents)
	}
	// No document in both splits, read back from the files.
	train, err := eval.ReadGenerated(filepath.Join(out, eval.TrainFile))
	if err != nil {
		t.Fatal(err)
	}
	test, err := eval.ReadGenerated(filepath.Join(out, eval.TestFile))
	if err != nil {
		t.Fatal(err)
	}
	inTrain := map[string]bool{}
	for _, g := range train {
		inTrain[g.Source.Path] = true
		if len(g.Expected) != 1 || g.Expected[0] != g.Source.Path || g.Source.Text == "" {
			t.Errorf("train line %+v: expected must be its source's path, with the source text", g)
		}
	}
	for _, g := range test {
		if inTrain[g.Source.Path] {
			t.Errorf("%s is in both splits", g.Source.Path)
		}
	}
	if len(train) != m.Train.Questions || len(test) != m.Test.Questions || len(test) == 0 {
		t.Errorf("files hold %d/%d questions, manifest %d/%d", len(train), len(test), m.Train.Questions, m.Test.Questions)
	}
	// The files are questions files rag eval reads.
	coll, err := eval.LoadQuestions(filepath.Join(out, eval.TestFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Queries) != len(test) {
		t.Errorf("LoadQuestions read %d queries, want %d", len(coll.Queries), len(test))
	}
	if split, mf := eval.SplitOf(filepath.Join(out, eval.TestFile)); split != "test" || mf == nil || mf.Seed != 7 {
		t.Errorf("SplitOf(test.jsonl) = %q, %+v", split, mf)
	}
	if split, _ := eval.SplitOf(filepath.Join(t.TempDir(), "questions.jsonl")); split != "" {
		t.Errorf("SplitOf of a plain questions file = %q, want none", split)
	}
}

func TestGenerateSameSeedSameFiles(t *testing.T) {
	dir := generatedIndex(t, 10)
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2"})
	srv.SetChatReply(questionWriter)
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	generate(t, dir, srv, 12, 42, a)
	generate(t, dir, srv, 12, 42, b)
	generate(t, dir, srv, 12, 43, c)
	for _, name := range []string{eval.TrainFile, eval.TestFile, eval.ManifestFile} {
		fa, _ := os.ReadFile(filepath.Join(a, name))
		fb, _ := os.ReadFile(filepath.Join(b, name))
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Errorf("%s differs between two runs with seed 42 (or is empty)", name)
		}
	}
	ta, _ := os.ReadFile(filepath.Join(a, eval.TestFile))
	tc, _ := os.ReadFile(filepath.Join(c, eval.TestFile))
	if bytes.Equal(ta, tc) {
		t.Errorf("seeds 42 and 43 gave the same test split")
	}
}

func TestGenerateDropsUnusableReplies(t *testing.T) {
	dir := generatedIndex(t, 4)
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2"})
	srv.SetChatReply(func(api.ChatRequest) string { return "Here is a question: what?" })
	set := generate(t, dir, srv, 5, 1, t.TempDir())
	if set.Manifest.Dropped.Failed != 5 || len(set.Train)+len(set.Test) != 0 {
		t.Errorf("manifest %+v: every reply that is not the JSON asked for is dropped", set.Manifest)
	}
}

func TestGenerateStopsWhenTheServerIsDown(t *testing.T) {
	dir := generatedIndex(t, 4)
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2"})
	srv.Close()
	r, err := index.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, _ := ollama.New(srv.URL)
	if _, err := eval.Generate(context.Background(), r, c, eval.GenerateOptions{N: 3, Model: "llama3.2"}); err == nil {
		t.Fatal("Generate with the server down: no error")
	}
}
