package deep

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/ragcli/rag/internal/answer"
)

// citeRE matches a citation as package answer reads them: [1], [1, 2], [1;2].
var citeRE = regexp.MustCompile(`\[(\d+(?:\s*[,;]\s*\d+)*)\]`)

// renumber rewrites the citations in text through m (a part's source numbers
// to the merged list's). Numbers m does not know are not sources the part
// was given, and are dropped; a citation left empty disappears.
func renumber(text string, m map[int]int) string {
	return citeRE.ReplaceAllStringFunc(text, func(c string) string {
		var nums []string
		for _, f := range strings.FieldsFunc(c[1:len(c)-1], func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
			n, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if g, ok := m[n]; ok {
				nums = append(nums, strconv.Itoa(g))
			}
		}
		if len(nums) == 0 {
			return ""
		}
		return "[" + strings.Join(nums, ", ") + "]"
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
