package eval

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// CranfieldGain maps a cranqrel relevance code to the graded relevance that
// LoadCranfield stores. Cleverdon's codes put the most relevant first
// (1 complete answer, 2 high relevance, 3 useful background, 4 minimum
// interest, 5 no interest), and the files also use -1 for references of no
// interest, so the gain is 5 - code for codes 1..4 (4, 3, 2, 1) and 0 for -1
// and 5. Every code 1..4 is relevant, as in the usual binary setup. ok is
// false for any other code.
func CranfieldGain(code int) (gain int, ok bool) {
	switch {
	case code >= 1 && code <= 4:
		return 5 - code, true
	case code == -1 || code == 5:
		return 0, true
	}
	return 0, false
}

// LoadCranfield reads the Cranfield 1400 collection in SMART format from
// dir: cran.all.1400 (documents), cran.qry (queries) and cranqrel
// (judgments "query doc code").
//
// Document ids are the ".I" numbers of cran.all.1400. The title is the .T
// field on one line; the text is the .W abstract without its first lines when
// they repeat the title, with continuation lines joined and indented lines
// starting new paragraphs. Author (.A) and bibliography (.B) are left out.
// A record with several .W fields (there is one in the distributed file) has
// them joined.
//
// cran.qry numbers its queries 001, 002, 004, ... but cranqrel numbers them by
// position, 1..225, so query ids are positions: the Nth query of cran.qry has
// id "N". Relevance codes become gains through CranfieldGain; judged
// non-relevant rows are kept with grade 0.
func LoadCranfield(dir string) (*Collection, error) {
	docsPath := filepath.Join(dir, "cran.all.1400")
	recs, err := readSMART(docsPath)
	if err != nil {
		return nil, fmt.Errorf("load cranfield docs: %w", err)
	}
	docs := make([]Doc, 0, len(recs))
	seen := make(map[string]int, len(recs))
	for _, r := range recs {
		if prev, ok := seen[r.id]; ok {
			return nil, fmt.Errorf("load cranfield docs: %w", &LineError{File: docsPath, Line: r.line,
				Err: fmt.Errorf("duplicate doc id %q (first on line %d)", r.id, prev)})
		}
		seen[r.id] = r.line
		title := strings.Join(strings.Fields(strings.Join(r.fields['T'], " ")), " ")
		docs = append(docs, Doc{ID: r.id, Title: title, Text: cranText(r.fields['T'], r.fields['W'])})
	}

	qryPath := filepath.Join(dir, "cran.qry")
	qrecs, err := readSMART(qryPath)
	if err != nil {
		return nil, fmt.Errorf("load cranfield queries: %w", err)
	}
	queries := make([]Query, 0, len(qrecs))
	for i, r := range qrecs {
		text := strings.Join(strings.Fields(strings.Join(r.fields['W'], " ")), " ")
		queries = append(queries, Query{ID: strconv.Itoa(i + 1), Text: text})
	}

	relPath := filepath.Join(dir, "cranqrel")
	qrels := make(Qrels)
	err = eachLine(relPath, func(n int, line []byte) error {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			return nil
		}
		if len(f) != 3 {
			return fmt.Errorf("want 3 fields (query doc code), got %d", len(f))
		}
		var v [3]int
		for i, s := range f {
			x, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("field %d %q is not an integer", i+1, s)
			}
			v[i] = x
		}
		if v[0] < 1 || v[0] > len(queries) {
			return fmt.Errorf("query number %d is out of range 1..%d", v[0], len(queries))
		}
		gain, ok := CranfieldGain(v[2])
		if !ok {
			return fmt.Errorf("unknown relevance code %d", v[2])
		}
		qid, did := strconv.Itoa(v[0]), strconv.Itoa(v[1])
		if qrels[qid] == nil {
			qrels[qid] = make(map[string]int)
		}
		// Should a pair be judged twice, keep the more relevant judgment.
		if old, dup := qrels[qid][did]; !dup || gain > old {
			qrels[qid][did] = gain
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load cranfield qrels: %w", err)
	}
	judged := queries[:0:0]
	for _, q := range queries {
		if _, ok := qrels[q.ID]; ok {
			judged = append(judged, q)
		}
	}
	return &Collection{Name: "cranfield", Docs: docs, Queries: judged, Qrels: qrels}, nil
}

// smartRecord is one ".I" record of a SMART file: its id, the line it starts
// on, and the lines of each field keyed by the field letter.
type smartRecord struct {
	id     string
	line   int
	fields map[byte][]string
}

// readSMART parses a SMART-format file: records start with ".I <id>"; a line
// that is just "." and an upper-case letter starts a field; other lines belong
// to the current field.
func readSMART(path string) ([]smartRecord, error) {
	var recs []smartRecord
	var field byte
	err := eachLine(path, func(n int, b []byte) error {
		line := strings.TrimRight(string(b), " \t")
		if strings.HasPrefix(line, ".I") && (len(line) == 2 || line[2] == ' ' || line[2] == '\t') {
			id := strings.TrimSpace(line[2:])
			if id == "" {
				return errors.New(`".I" line without an id`)
			}
			if _, err := strconv.Atoi(id); err != nil {
				return fmt.Errorf("record id %q is not a number", id)
			}
			id = strings.TrimLeft(id, "0")
			if id == "" {
				id = "0"
			}
			recs = append(recs, smartRecord{id: id, line: n, fields: make(map[byte][]string)})
			field = 0
			return nil
		}
		if len(line) == 2 && line[0] == '.' && line[1] >= 'A' && line[1] <= 'Z' {
			if len(recs) == 0 {
				return fmt.Errorf("field %q before the first \".I\" record", line)
			}
			field = line[1]
			r := recs[len(recs)-1]
			if _, ok := r.fields[field]; !ok {
				r.fields[field] = []string{}
			}
			return nil
		}
		if strings.TrimSpace(line) == "" && field == 0 {
			return nil
		}
		if len(recs) == 0 || field == 0 {
			return errors.New(`text outside a field (want ".I", ".T", ".W" ...)`)
		}
		r := recs[len(recs)-1]
		r.fields[field] = append(r.fields[field], line)
		return nil
	})
	return recs, err
}

// cranText turns the .W lines of a Cranfield document into text: it drops
// leading lines that repeat the title, joins wrapped lines with a space and
// starts a new paragraph at each indented line.
func cranText(title, abstract []string) string {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if len(title) > 0 && len(abstract) >= len(title) {
		same := true
		for i := range title {
			if norm(title[i]) != norm(abstract[i]) {
				same = false
				break
			}
		}
		if same {
			abstract = abstract[len(title):]
		}
	}
	var b strings.Builder
	for _, line := range abstract {
		text := norm(line)
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasPrefix(line, "  ") {
				b.WriteString("\n\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(text)
	}
	return b.String()
}
