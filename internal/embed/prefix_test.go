package embed

import "testing"

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
