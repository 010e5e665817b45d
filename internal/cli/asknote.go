package cli

import (
	"fmt"
	"strings"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/audit"
	"github.com/ragcli/rag/internal/iostreams"
)

// AskDisagreement is a pair of cited sources that rag audit would flag as
// possibly contradicting (`"disagreements"` in rag ask --json).
type AskDisagreement struct {
	Sources     []int    `json:"sources"` // their numbers, [2, 4]
	Differences []string `json:"differences"`
}

// disagreements are the pairs of cited sources of ans that read alike but
// differ in a number, date, version or negation.
func disagreements(ans *answer.Answer) []AskDisagreement {
	var cited []answer.Source
	for _, s := range ans.Sources {
		if s.Cited {
			cited = append(cited, s)
		}
	}
	texts, paths := make([]string, len(cited)), make([]string, len(cited))
	for i, s := range cited {
		texts[i], paths[i] = s.Text, s.Path
	}
	out := []AskDisagreement{}
	for _, d := range audit.Disagreements(texts, paths) {
		out = append(out, AskDisagreement{Sources: []int{cited[d.A].N, cited[d.B].N}, Differences: d.Differences})
	}
	return out
}

// printDisagreements notes, under the answer, cited sources that disagree.
func (a *app) printDisagreements(ans *answer.Answer) {
	for _, d := range disagreements(ans) {
		fmt.Fprintf(a.s.Out, "Note: sources [%d] and [%d] disagree on %s (rag audit lists such pairs)\n",
			d.Sources[0], d.Sources[1], iostreams.Sanitize(strings.Join(d.Differences, "; ")))
	}
}
