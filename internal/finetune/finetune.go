// Package finetune turns a generated question set (rag eval --generate) into
// fine-tuning data: JSON lines in the chat "messages" format that LoRA/QLoRA
// trainers and hosted fine-tuning APIs accept, one example per question,
// holding rag's own answer prompt (the question and its retrieved context,
// as rag ask gives them) and the answer.
//
// The test split stays out of the training file: test questions are written
// to the test file only, and a training example's context never holds a chunk
// of a test document, so the tuned model cannot have read what it is tested
// on. The package retrieves through a function it is given and writes files;
// it does not print.
package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retrieve"
)

// Thresholds the guide gives for fine-tuning to pay off.
const (
	// MinExamples: below this many training examples, prompt engineering and
	// RAG serve better than fine-tuning.
	MinExamples = 100
	// GoodExamples is the size to aim for.
	GoodExamples = 500
)

// Files written to the output folder.
const (
	TrainFile = "train.jsonl"
	TestFile  = "test.jsonl"
)

// Message is one chat message of an example.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Example is one line of the output: {"messages": [system, user, assistant]}.
type Example struct {
	Messages []Message `json:"messages"`
}

// Search retrieves up to k chunks for a question.
type Search func(ctx context.Context, question string, k int) ([]retrieve.Result, error)

// Options say how much context each example holds.
type Options struct {
	K int // passages of context per example
}

// Report counts what Build did.
type Report struct {
	Train int `json:"train"`
	Test  int `json:"test"`
	// SourceAdded counts examples whose source chunk retrieval missed: it
	// replaced the last retrieved passage, so every answer is in its context.
	SourceAdded int `json:"source_added"`
	// TestChunksLeftOut counts chunks of test documents kept out of training
	// examples' contexts.
	TestChunksLeftOut int `json:"test_chunks_left_out"`
	// DroppedFromTrain counts training questions also in the test split.
	DroppedFromTrain int `json:"dropped_from_train"`
}

// Build makes the examples of both splits. The context of a training example
// never holds a chunk of a document of the test split.
func Build(ctx context.Context, train, test []eval.Generated, search Search, o Options) (trainEx, testEx []Example, rep Report, err error) {
	if o.K < 1 {
		o.K = 5
	}
	testDocs, testQuestions := map[string]bool{}, map[string]bool{}
	for _, g := range test {
		testDocs[g.Source.Path] = true
		testQuestions[g.Question] = true
	}
	for _, g := range train {
		if testQuestions[g.Question] || testDocs[g.Source.Path] {
			rep.DroppedFromTrain++
			continue
		}
		ex, err := example(ctx, g, search, o.K, testDocs, &rep)
		if err != nil {
			return nil, nil, rep, err
		}
		trainEx = append(trainEx, ex)
	}
	for _, g := range test {
		ex, err := example(ctx, g, search, o.K, nil, &rep)
		if err != nil {
			return nil, nil, rep, err
		}
		testEx = append(testEx, ex)
	}
	rep.Train, rep.Test = len(trainEx), len(testEx)
	return trainEx, testEx, rep, nil
}

func example(ctx context.Context, g eval.Generated, search Search, k int, exclude map[string]bool, rep *Report) (Example, error) {
	// Fetch more than k when some results may be left out.
	want := k
	if len(exclude) > 0 {
		want = 3 * k
	}
	res, err := search(ctx, g.Question, want)
	if err != nil {
		return Example{}, fmt.Errorf("retrieve context for %q: %w", g.Question, err)
	}
	var kept []retrieve.Result
	found := false
	for _, r := range res {
		if exclude[r.Path] {
			rep.TestChunksLeftOut++
			continue
		}
		if len(kept) == k {
			break
		}
		if r.Path == g.Source.Path && r.StartLine == g.Source.StartLine && r.Page == g.Source.Page {
			found = true
		}
		kept = append(kept, r)
	}
	if !found {
		src := retrieve.Result{Chunk: index.Chunk{Path: g.Source.Path, StartLine: g.Source.StartLine, EndLine: g.Source.EndLine, Page: g.Source.Page, Text: g.Source.Text}}
		if len(kept) == k {
			kept = kept[:k-1]
		}
		kept = append(kept, src)
		rep.SourceAdded++
	}
	sources := make([]answer.Source, len(kept))
	cite := 0
	for i, r := range kept {
		sources[i] = answer.Source{N: i + 1, Result: r}
		if r.Path == g.Source.Path && r.StartLine == g.Source.StartLine && r.Page == g.Source.Page {
			cite = i + 1
		}
	}
	var ex Example
	for _, m := range answer.Prompt(g.Question, sources) {
		ex.Messages = append(ex.Messages, Message{Role: m.Role, Content: m.Content})
	}
	ex.Messages = append(ex.Messages, Message{Role: "assistant", Content: fmt.Sprintf("%s [%d]", g.Answer, cite)})
	return ex, nil
}

// Write writes both files to dir, each to a temporary file renamed into place.
func Write(dir string, train, test []Example) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write fine-tuning data: %w", err)
	}
	for name, exs := range map[string][]Example{TrainFile: train, TestFile: test} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		for _, ex := range exs {
			if err := enc.Encode(ex); err != nil {
				return err
			}
		}
		path := filepath.Join(dir, name)
		tmp := path + ".tmp"
		if err := writeSynced(tmp, b.Bytes()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
