package finetune_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/finetune"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retrieve"
)

func gen(q, path, text string) eval.Generated {
	return eval.Generated{Question: q, Expected: []string{path}, Answer: "A short answer.",
		Source: eval.Source{Path: path, StartLine: 1, EndLine: 3, Text: text}}
}

// corpus is what the fake search finds: every chunk, whatever the question,
// test documents first, so that leaving them out is visible.
var corpus = []retrieve.Result{
	{Chunk: index.Chunk{Path: "/d/test-doc.md", StartLine: 1, EndLine: 3, Text: "SECRET test passage"}},
	{Chunk: index.Chunk{Path: "/d/train-a.md", StartLine: 1, EndLine: 3, Text: "train passage a"}},
	{Chunk: index.Chunk{Path: "/d/train-b.md", StartLine: 1, EndLine: 3, Text: "train passage b"}},
	{Chunk: index.Chunk{Path: "/d/other.md", StartLine: 1, EndLine: 3, Text: "other passage"}},
}

func search(_ context.Context, _ string, k int) ([]retrieve.Result, error) {
	return corpus[:min(k, len(corpus))], nil
}

func TestBuildKeepsTestOutOfTrain(t *testing.T) {
	train := []eval.Generated{
		gen("What is in a?", "/d/train-a.md", "train passage a"),
		gen("What is in b?", "/d/train-b.md", "train passage b"),
		gen("What is the secret?", "/d/test-doc.md", "SECRET test passage"), // a hand-edited set: a test document in train
	}
	test := []eval.Generated{gen("What is the secret?", "/d/test-doc.md", "SECRET test passage")}
	trainEx, testEx, rep, err := finetune.Build(context.Background(), train, test, search, finetune.Options{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Train != 2 || rep.Test != 1 || rep.DroppedFromTrain != 1 {
		t.Errorf("report %+v: want 2 train, 1 test, 1 dropped from train", rep)
	}
	if rep.TestChunksLeftOut != 2 {
		t.Errorf("test chunks left out of training contexts: %d, want 2 (one per training example)", rep.TestChunksLeftOut)
	}
	dir := t.TempDir()
	if err := finetune.Write(dir, trainEx, testEx); err != nil {
		t.Fatal(err)
	}
	trainFile := readExamples(t, filepath.Join(dir, finetune.TrainFile))
	testFile := readExamples(t, filepath.Join(dir, finetune.TestFile))
	if len(trainFile) != 2 || len(testFile) != 1 {
		t.Fatalf("files hold %d and %d examples", len(trainFile), len(testFile))
	}
	raw, _ := os.ReadFile(filepath.Join(dir, finetune.TrainFile))
	for _, leak := range []string{"SECRET", "test-doc.md", "What is the secret?"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("the training file holds %q from the test split", leak)
		}
	}
	// The test example keeps its full retrieved context.
	if !strings.Contains(testFile[0].Messages[1].Content, "SECRET test passage") {
		t.Errorf("test example lacks its context: %q", testFile[0].Messages[1].Content)
	}
}

func TestBuildPutsTheSourceInContext(t *testing.T) {
	train := []eval.Generated{gen("What is elsewhere?", "/d/elsewhere.md", "the elsewhere passage")}
	trainEx, _, rep, err := finetune.Build(context.Background(), train, nil, search, finetune.Options{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SourceAdded != 1 {
		t.Errorf("SourceAdded = %d, want 1", rep.SourceAdded)
	}
	user, assistant := trainEx[0].Messages[1].Content, trainEx[0].Messages[2].Content
	if !strings.Contains(user, `<source n="2" path="/d/elsewhere.md" lines="1-3">`) || strings.Contains(user, `n="3"`) {
		t.Errorf("the source should replace the last of 2 passages:\n%s", user)
	}
	if assistant != "A short answer. [2]" {
		t.Errorf("assistant = %q, want the answer citing [2]", assistant)
	}
}

// readExamples checks that every line is one JSON object of the messages
// schema: exactly the keys "messages", then system, user, assistant, each
// with a role and non-empty content and nothing else.
func readExamples(t *testing.T, path string) []finetune.Example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []finetune.Example
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("%s:%d is not JSON: %v", path, n, err)
		}
		if len(obj) != 1 || obj["messages"] == nil {
			t.Fatalf("%s:%d has keys other than messages: %s", path, n, sc.Text())
		}
		var msgs []map[string]any
		if err := json.Unmarshal(obj["messages"], &msgs); err != nil {
			t.Fatalf("%s:%d: messages is not a list of objects: %v", path, n, err)
		}
		roles := []string{"system", "user", "assistant"}
		if len(msgs) != len(roles) {
			t.Fatalf("%s:%d: %d messages, want system, user, assistant", path, n, len(msgs))
		}
		var ex finetune.Example
		for i, m := range msgs {
			role, _ := m["role"].(string)
			content, _ := m["content"].(string)
			if len(m) != 2 || role != roles[i] || strings.TrimSpace(content) == "" {
				t.Fatalf("%s:%d: message %d = %v, want {role: %s, content: non-empty}", path, n, i, m, roles[i])
			}
			ex.Messages = append(ex.Messages, finetune.Message{Role: role, Content: content})
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
