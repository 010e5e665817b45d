package embed

import (
	"context"
	"testing"
)

func TestPrefixesFor(t *testing.T) {
	const represent = "Represent this sentence for searching relevant passages: "
	nomic := Prefixes{Query: "search_query: ", Document: "search_document: "}
	e5 := Prefixes{Query: "query: ", Document: "passage: "}
	queryOnly := Prefixes{Query: represent}
	tests := []struct {
		model string
		want  Prefixes
	}{
		{"nomic-embed-text", nomic},
		{"nomic-embed-text:latest", nomic},
		{"nomic-embed-text:v1.5", nomic},
		{"Nomic-Embed-Text:V1.5", nomic},
		{"library/nomic-embed-text", nomic},
		{"registry.ollama.ai/library/nomic-embed-text:latest", nomic},
		{"localhost:5000/team/nomic-embed-text:v1.5", nomic},
		{"mxbai-embed-large", queryOnly},
		{"mxbai-embed-large:335m", queryOnly},
		{"someone/mxbai-embed-large:latest", queryOnly},
		{"snowflake-arctic-embed:l", queryOnly},
		{"bge-large", queryOnly},
		{"bge-large:335m", queryOnly},
		{"bge-base-en-v1.5", queryOnly},
		{"bge-small:latest", queryOnly},
		{"bge-m3", Prefixes{}}, // needs no instruction
		{"e5", e5},
		{"e5-large-v2:latest", e5},
		{"multilingual-e5-large", e5},
		{"all-minilm", Prefixes{}},
		{"all-minilm:l6-v2", Prefixes{}},
		{"granite-embedding:30m", Prefixes{}},
		{"", Prefixes{}},
		// a tag never selects a family
		{"all-minilm:nomic-embed-text", Prefixes{}},
		{"my-nomic-embed-text", Prefixes{}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			if got := PrefixesFor(tt.model); got != tt.want {
				t.Errorf("PrefixesFor(%q) = %+v, want %+v", tt.model, got, tt.want)
			}
		})
	}
}

// recorder is an Embedder that keeps what it was asked to embed.
type recorder struct {
	model string
	got   []string
}

func (r *recorder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	r.got = append(r.got, texts...)
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

func (r *recorder) Model() string { return r.model }

// TestModelAppliesPrefixes: documents and queries reach the model with its
// own prefixes, and a model without prefixes gets the texts untouched.
func TestModelAppliesPrefixes(t *testing.T) {
	for _, tt := range []struct {
		model    string
		doc, qry string
	}{
		{"nomic-embed-text:v1.5", "search_document: a", "search_query: q"},
		{"mxbai-embed-large", "a", "Represent this sentence for searching relevant passages: q"},
		{"all-minilm", "a", "q"},
	} {
		r := &recorder{model: tt.model}
		m := For(r)
		if _, err := m.Documents(t.Context(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Query(t.Context(), "q"); err != nil {
			t.Fatal(err)
		}
		if len(r.got) != 2 || r.got[0] != tt.doc || r.got[1] != tt.qry {
			t.Errorf("%s: the model saw %q, want [%q %q]", tt.model, r.got, tt.doc, tt.qry)
		}
		if m.Name() != tt.model {
			t.Errorf("Name() = %q", m.Name())
		}
	}
}
