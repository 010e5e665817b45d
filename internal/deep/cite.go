package deep

import (
	"fmt"

	"github.com/ragcli/rag/internal/answer"
)

// renumber rewrites the citations in text through m (a part's source numbers
// to the merged list's). Numbers m does not know are not sources the part
// was given, and are dropped; a citation left empty disappears.
func renumber(text string, m map[int]int) string {
	return answer.Renumber(text, func(n int) (int, bool) {
		g, ok := m[n]
		return g, ok
	})
}

// sourceKey identifies a chunk across parts, so a chunk two parts cite gets
// one number.
func sourceKey(s answer.Source) string {
	if s.ID != 0 {
		return fmt.Sprintf("id:%d", s.ID)
	}
	return fmt.Sprintf("%s:%d-%d#%d:%s", s.Path, s.StartLine, s.EndLine, s.Page, s.Text)
}

// merger numbers the sources the parts cite into one list, in the order the
// parts come and, within a part, by its own numbering.
type merger struct {
	byKey   map[string]int
	sources []answer.Source
}

// add renumbers a part's answer text whose own sources are srcs, and returns
// the rewritten text and the merged sources it cites.
func (mg *merger) add(text string, srcs []answer.Source) (string, []answer.Source) {
	if mg.byKey == nil {
		mg.byKey = map[string]int{}
	}
	m := map[int]int{}
	var cited []answer.Source
	for _, s := range srcs {
		if !s.Cited {
			continue
		}
		k := sourceKey(s)
		g, ok := mg.byKey[k]
		if !ok {
			g = len(mg.sources) + 1
			mg.byKey[k] = g
			mg.sources = append(mg.sources, answer.Source{N: g, Result: s.Result})
		}
		m[s.N] = g
		cited = append(cited, answer.Source{N: g, Result: s.Result, Cited: true})
	}
	return renumber(text, m), cited
}

// markCited sets Cited on the merged sources that text cites.
func markCited(text string, sources []answer.Source) {
	for _, n := range answer.Cited(text) {
		if n >= 1 && n <= len(sources) {
			sources[n-1].Cited = true
		}
	}
}
