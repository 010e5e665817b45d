package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/ragcli/rag/internal/index"
)

// Check verifies a store through its Reader alone, for stores that have no
// check of their own (the local index has index.Check, which also reads its
// files): every file's chunks are there (a record listing a chunk the store
// does not hold is reported), every vector has the recorded dimension,
// finite values and unit length, the counts of files, chunks and pending
// chunks agree with Stats and Meta (more chunks than the records list are
// leftovers of an interrupted commit or of two writers of one file: never
// searched, but counted), and every root is recorded. loc names the store in
// the report.
func Check(ctx context.Context, r Reader, loc string) (*index.CheckReport, error) {
	m := r.Meta()
	rep := &index.CheckReport{Dir: loc, FormatVersion: m.FormatVersion, Problems: []string{}, Roots: []string{}}
	roots, err := r.Roots(ctx)
	if err != nil {
		return nil, err
	}
	for p := range roots {
		rep.Roots = append(rep.Roots, p)
	}
	sort.Strings(rep.Roots)
	bad := 0
	err = r.EachFile(ctx, func(p Put) error {
		rep.Files++
		for i, v := range p.Vectors {
			rep.Chunks++
			if v == nil {
				rep.Pending++
				continue
			}
			rep.Vectors++
			if what := badVector(v, m.Dim); what != "" {
				if bad++; bad <= 10 {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s: chunk %d (line %d): %s", p.File.Path, p.Chunks[i].ID, p.Chunks[i].StartLine, what))
				}
			}
		}
		return nil
	})
	if de, ok := errors.AsType[*index.DamagedError](err); ok {
		rep.Problems = append(rep.Problems, de.What)
		return rep, nil // the counts below would only repeat it
	}
	if err != nil {
		return nil, err
	}
	if bad > 10 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d more vectors like these", bad-10))
	}
	st, err := r.Stats(ctx)
	if err != nil {
		return nil, err
	}
	if st.Files != rep.Files {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d file records counted, %d read", st.Files, rep.Files))
	}
	if st.Chunks > rep.Chunks {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d chunks that no file record lists (left by an interrupted commit or by two writers of one file): never searched; ingesting their files again replaces them", st.Chunks-rep.Chunks))
	} else if st.Chunks < rep.Chunks {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d chunks counted, %d read", st.Chunks, rep.Chunks))
	}
	if m.Pending != rep.Pending && st.Pending != rep.Pending {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d chunks are pending, the store counts %d", rep.Pending, st.Pending))
	}
	return rep, nil
}

// badVector says what is wrong with a stored vector, "" when nothing is.
func badVector(v []float32, dim int) string {
	if len(v) != dim {
		return fmt.Sprintf("a vector of dimension %d in a store of dimension %d", len(v), dim)
	}
	var sum float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return "a vector with a non-finite value"
		}
		sum += float64(x) * float64(x)
	}
	if math.Abs(math.Sqrt(sum)-1) > 1e-3 {
		return fmt.Sprintf("a vector of length %.4f, not 1", math.Sqrt(sum))
	}
	return ""
}
