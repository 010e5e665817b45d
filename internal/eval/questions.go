package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// question is one line of a questions file.
type question struct {
	Question string   `json:"question"`
	Expected []string `json:"expected"`
}

// LoadQuestions reads a user's questions about their own index from a JSON
// lines file, one {"question": "...", "expected": ["path", ...]} per line
// (blank lines are skipped). Expected paths are relative to the folder of the
// questions file, or absolute.
//
// The result is a Collection named after the file, whose docs are the
// expected files (ids are absolute clean paths, title and text empty: they are
// already in the user's index), whose queries have ids "q1", "q2", ... in line
// order, and whose judgments all have relevance 1. PathID maps retrieved
// paths to these ids. Malformed lines, an empty question and a question
// without expected paths are reported as a *LineError.
func LoadQuestions(path string) (*Collection, error) {
	absFile, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load questions: %w", err)
	}
	base := filepath.Dir(absFile)
	c := &Collection{
		Name:  strings.TrimSuffix(filepath.Base(absFile), filepath.Ext(absFile)),
		Qrels: make(Qrels),
	}
	docs := make(map[string]bool)
	err = eachLine(path, func(n int, line []byte) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		var q question
		if err := json.Unmarshal(line, &q); err != nil {
			return fmt.Errorf("parse json: %w", err)
		}
		text := strings.TrimSpace(q.Question)
		if text == "" {
			return errors.New(`missing or empty "question"`)
		}
		if len(q.Expected) == 0 {
			return errors.New(`no "expected" paths`)
		}
		id := "q" + strconv.Itoa(len(c.Queries)+1)
		rel := make(map[string]int, len(q.Expected))
		for _, p := range q.Expected {
			if strings.TrimSpace(p) == "" {
				return errors.New(`empty path in "expected"`)
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			p = filepath.Clean(p)
			rel[p] = 1
			if !docs[p] {
				docs[p] = true
				c.Docs = append(c.Docs, Doc{ID: p})
			}
		}
		c.Queries = append(c.Queries, Query{ID: id, Text: text})
		c.Qrels[id] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load questions: %w", err)
	}
	return c, nil
}
