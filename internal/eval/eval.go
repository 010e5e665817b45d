// Package eval provides what `rag eval` needs to measure retrieval quality:
// loaders for benchmark collections (BEIR folders, the Cranfield 1400 SMART
// files, and a user's own JSON-lines question file), a writer that lays a
// collection's documents out as plain files so they can go through rag's
// normal ingest pipeline, the mapping from retrieved chunk paths back to
// document ids, and the trec_eval-style metrics nDCG@10, Recall@10,
// Recall@100 and MRR@10.
//
// It does not ingest, embed or retrieve anything itself, and it never prints:
// the CLI drives the run and reports the Metrics this package returns.
package eval

import "fmt"

// Doc is one document of a collection.
type Doc struct {
	ID, Title, Text string
}

// Query is one query of a collection.
type Query struct {
	ID, Text string
}

// Qrels holds relevance judgments: query id -> doc id -> graded relevance.
// A grade > 0 is relevant and is the gain used by nDCG; a grade <= 0 is a
// judged non-relevant document.
type Qrels map[string]map[string]int

// Relevant reports how many documents are judged relevant (grade > 0) for
// query id.
func (q Qrels) Relevant(id string) int {
	n := 0
	for _, g := range q[id] {
		if g > 0 {
			n++
		}
	}
	return n
}

// Collection is a benchmark: documents, queries and their judgments.
type Collection struct {
	Name    string
	Docs    []Doc
	Queries []Query // only the queries that have judgments in the chosen split, in file order
	Qrels   Qrels
}

// LineError reports malformed input at a line of a file, so a person can
// open the file at that place.
type LineError struct {
	File string // path of the file as given to the loader
	Line int    // 1-based line number
	Err  error
}

// Error returns "file:line: message".
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }
