package embed

import "strings"

// Prefixes are the instructions some embedding models expect before a query
// and before a document; without them their retrieval quality drops. The
// table follows each model's card. Models not listed take none.
type Prefixes struct {
	Query    string
	Document string
}

var prefixTable = []struct {
	family string // model name without tag, or a prefix of it ending in "*"
	p      Prefixes
}{
	{"nomic-embed-text*", Prefixes{Query: "search_query: ", Document: "search_document: "}},
	{"mxbai-embed-large*", Prefixes{Query: "Represent this sentence for searching relevant passages: "}},
	{"snowflake-arctic-embed*", Prefixes{Query: "Represent this sentence for searching relevant passages: "}},
	{"bge-large*", Prefixes{Query: "Represent this sentence for searching relevant passages: "}},
	{"bge-base*", Prefixes{Query: "Represent this sentence for searching relevant passages: "}},
	{"bge-small*", Prefixes{Query: "Represent this sentence for searching relevant passages: "}},
	{"e5*", Prefixes{Query: "query: ", Document: "passage: "}},
	{"multilingual-e5*", Prefixes{Query: "query: ", Document: "passage: "}},
}

// PrefixesFor returns the prefixes for model ("name" or "name:tag", with or
// without a namespace such as "library/").
func PrefixesFor(model string) Prefixes {
	name := strings.ToLower(model)
	// A model of another provider is recorded as "openai:NAME" or "cohere:NAME".
	for _, p := range []string{"openai:", "cohere:"} {
		name = strings.TrimPrefix(name, p)
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	for _, e := range prefixTable {
		if f, ok := strings.CutSuffix(e.family, "*"); ok && strings.HasPrefix(name, f) || name == e.family {
			return e.p
		}
	}
	return Prefixes{}
}
