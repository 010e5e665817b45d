package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultSplit is the qrels split LoadBEIR reads when none is given; it is
// the split BEIR's published figures use.
const DefaultSplit = "test"

// LoadBEIR reads a collection in the BEIR layout from dir:
// DIR/corpus.jsonl (or, if absent, DIR/corpus.jsonl.gz), DIR/queries.jsonl
// and DIR/qrels/SPLIT.tsv. An empty split means DefaultSplit.
//
// Corpus and query lines are JSON objects with "_id" (a string or a number),
// "text" and, for documents, "title"; other fields are ignored. The qrels file
// has tab-separated "query-id corpus-id score" rows with integer scores and an
// optional header line; CRLF line endings and blank lines are tolerated. As in
// BEIR's own loader, a later row for the same pair replaces an earlier one,
// and a judged document missing from the corpus is kept (it can only lower
// recall), but a judged query missing from queries.jsonl is an error.
//
// Malformed input is reported as a *LineError naming the file and line.
func LoadBEIR(dir, split string) (*Collection, error) {
	if split == "" {
		split = DefaultSplit
	}
	if strings.ContainsAny(split, `/\`) || split == "." || split == ".." {
		return nil, fmt.Errorf("load beir: invalid split name %q", split)
	}
	qrelsPath := filepath.Join(dir, "qrels", split+".tsv")
	qrels, firstLine, err := readBEIRQrels(qrelsPath)
	if err != nil {
		return nil, fmt.Errorf("load qrels: %w", err)
	}
	queriesPath := filepath.Join(dir, "queries.jsonl")
	all, err := readBEIRQueries(queriesPath)
	if err != nil {
		return nil, fmt.Errorf("load queries: %w", err)
	}
	var queries []Query
	known := make(map[string]bool, len(all))
	for _, q := range all {
		known[q.ID] = true
		if _, ok := qrels[q.ID]; ok {
			queries = append(queries, q)
		}
	}
	for qid := range qrels {
		if !known[qid] {
			// Report the first unknown query in file order, so the message
			// does not change from run to run.
			bad, line := qid, firstLine[qid]
			for id := range qrels {
				if !known[id] && firstLine[id] < line {
					bad, line = id, firstLine[id]
				}
			}
			return nil, fmt.Errorf("load qrels: %w", &LineError{File: qrelsPath, Line: line,
				Err: fmt.Errorf("query %q is not in %s", bad, queriesPath)})
		}
	}
	corpusPath, err := findCorpus(dir)
	if err != nil {
		return nil, fmt.Errorf("load corpus: %w", err)
	}
	docs, err := readBEIRCorpus(corpusPath)
	if err != nil {
		return nil, fmt.Errorf("load corpus: %w", err)
	}
	name := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil {
		name = filepath.Base(abs)
	}
	return &Collection{Name: name, Docs: docs, Queries: queries, Qrels: qrels}, nil
}

// findCorpus returns the path of the corpus file in dir, preferring the
// uncompressed one.
func findCorpus(dir string) (string, error) {
	for _, name := range []string{"corpus.jsonl", "corpus.jsonl.gz"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no corpus.jsonl or corpus.jsonl.gz in %s: %w", dir, fs.ErrNotExist)
}

// jsonID is a BEIR "_id": usually a string, but some exports write numbers.
type jsonID string

func (id *jsonID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = jsonID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("_id must be a string or a number, not %s", b)
	}
	*id = jsonID(n.String())
	return nil
}

type beirRecord struct {
	ID    *jsonID `json:"_id"`
	Title string  `json:"title"`
	Text  string  `json:"text"`
}

// parseRecord decodes one JSON line and checks it has a non-empty _id.
func parseRecord(line []byte) (beirRecord, error) {
	var r beirRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("parse json: %w", err)
	}
	if r.ID == nil || *r.ID == "" {
		return r, errors.New(`missing "_id"`)
	}
	return r, nil
}

func readBEIRCorpus(path string) ([]Doc, error) {
	var docs []Doc
	err := eachRecord(path, "doc", func(id string, r beirRecord) {
		docs = append(docs, Doc{ID: id, Title: r.Title, Text: r.Text})
	})
	return docs, err
}

func readBEIRQueries(path string) ([]Query, error) {
	var queries []Query
	err := eachRecord(path, "query", func(id string, r beirRecord) {
		queries = append(queries, Query{ID: id, Text: r.Text})
	})
	return queries, err
}

// eachRecord calls fn with every record of a BEIR JSON-lines file, refusing
// a repeated id (kind names the records in that error).
func eachRecord(path, kind string, fn func(id string, r beirRecord)) error {
	seen := make(map[string]int)
	return eachLine(path, func(n int, line []byte) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		r, err := parseRecord(line)
		if err != nil {
			return err
		}
		id := string(*r.ID)
		if prev, ok := seen[id]; ok {
			return fmt.Errorf("duplicate %s id %q (first on line %d)", kind, id, prev)
		}
		seen[id] = n
		fn(id, r)
		return nil
	})
}

// readBEIRQrels reads a qrels TSV file and also returns the line on which
// each query first appears, for error messages.
func readBEIRQrels(path string) (Qrels, map[string]int, error) {
	qrels := make(Qrels)
	first := make(map[string]int)
	err := eachLine(path, func(n int, line []byte) error {
		s := strings.TrimSpace(string(line))
		if s == "" {
			return nil
		}
		f := strings.Split(s, "\t")
		if len(f) != 3 {
			return fmt.Errorf("want 3 tab-separated fields (query-id, corpus-id, score), got %d", len(f))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if n == 1 && strings.EqualFold(f[0], "query-id") {
			return nil // header
		}
		if f[0] == "" || f[1] == "" {
			return errors.New("empty query or corpus id")
		}
		score, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("score %q is not an integer", f[2])
		}
		if qrels[f[0]] == nil {
			qrels[f[0]] = make(map[string]int)
			first[f[0]] = n
		}
		qrels[f[0]][f[1]] = score
		return nil
	})
	return qrels, first, err
}
