package audit

import (
	"strconv"
	"strings"
	"unicode"
)

// negations are the words whose presence turns a statement around. A
// contraction such as "isn't" counts as its own negation.
var negations = map[string]bool{
	"not": true, "no": true, "never": true, "none": true, "cannot": true,
	"without": true, "nor": true, "neither": true, "nothing": true,
}

// words lowercases text and cuts it into runs of letters and digits, keeping
// the apostrophe inside a contraction.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

func hasDigit(w string) bool { return strings.ContainsFunc(w, unicode.IsDigit) }

func isNegation(w string) bool { return negations[w] || strings.HasSuffix(w, "n't") }

// masked is text as the similarity of statements sees it: every word with a
// digit in it becomes "#" and negations are left out, so "the default timeout
// is 10s" and "the default timeout is not 30s" read the same.
func masked(text string) []string {
	ws := words(text)
	out := ws[:0]
	for _, w := range ws {
		switch {
		case isNegation(w):
			continue
		case hasDigit(w):
			if len(out) == 0 || out[len(out)-1] != "#" { // v1.2.3 is one value
				out = append(out, "#")
			}
		default:
			out = append(out, strings.Trim(w, "'"))
		}
	}
	return out
}

// shingleSize is the number of words in a shingle.
const shingleSize = 3

// shingles returns the distinct word 3-grams of ws (the whole of ws when it
// is shorter).
func shingles(ws []string) map[string]bool {
	out := map[string]bool{}
	if len(ws) == 0 {
		return out
	}
	if len(ws) < shingleSize {
		out[strings.Join(ws, " ")] = true
		return out
	}
	for i := 0; i+shingleSize <= len(ws); i++ {
		out[strings.Join(ws[i:i+shingleSize], " ")] = true
	}
	return out
}

// jaccard is |a ∩ b| / |a ∪ b|, 1 for two empty sets.
func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for s := range a {
		if b[s] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// facts are what two otherwise alike statements may disagree on: the tokens
// holding digits (numbers with their units, dates, versions) and the number
// of negations.
type facts struct {
	values    map[string]bool
	negations int
}

func factsOf(text string) facts {
	f := facts{values: map[string]bool{}}
	for _, tok := range strings.Fields(strings.ToLower(text)) {
		tok = strings.Trim(tok, ".,;:!?()[]{}<>\"'`*_")
		switch {
		case tok == "":
		case hasDigit(tok):
			f.values[tok] = true
		case isNegation(tok):
			f.negations++
		}
	}
	return f
}

// differences lists how a's facts and b's differ, for a person to read:
// "10s / 30s", "negated in one only". It is empty when they agree.
func differences(a, b facts) []string {
	var onlyA, onlyB []string
	for v := range a.values {
		if !b.values[v] {
			onlyA = append(onlyA, v)
		}
	}
	for v := range b.values {
		if !a.values[v] {
			onlyB = append(onlyB, v)
		}
	}
	var out []string
	if len(onlyA) > 0 || len(onlyB) > 0 {
		sortStrings(onlyA)
		sortStrings(onlyB)
		out = append(out, cmpOr(strings.Join(onlyA, ", "), "-")+" / "+cmpOr(strings.Join(onlyB, ", "), "-"))
	}
	if (a.negations%2 == 0) != (b.negations%2 == 0) {
		out = append(out, "negated in one only")
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// version is a token that reads as a version or a date: v1.2.3, 1.4, 2023,
// 2024-05-01. Its parts compare numerically.
func version(tok string) ([]int, bool) {
	t := strings.TrimPrefix(tok, "v")
	var parts []int
	for _, p := range strings.FieldsFunc(t, func(r rune) bool { return r == '.' || r == '-' || r == '/' }) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		parts = append(parts, n)
	}
	switch {
	case len(parts) >= 2 && (strings.HasPrefix(tok, "v") || strings.Contains(tok, ".") || len(parts) == 3):
		return parts, true
	case len(parts) == 1 && strings.HasPrefix(tok, "v"):
		return parts, true
	case len(parts) == 1 && parts[0] >= 1900 && parts[0] <= 2100: // a year
		return parts, true
	}
	return nil, false
}

func compareVersions(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// newestVersion is the highest version or date among f's values.
func newestVersion(f facts) (string, []int) {
	var best string
	var bestV []int
	for tok := range f.values {
		v, ok := version(tok)
		if ok && (bestV == nil || compareVersions(v, bestV) > 0 || compareVersions(v, bestV) == 0 && tok < best) {
			best, bestV = tok, v
		}
	}
	return best, bestV
}

// Disagreement is a pair of passages that read alike but differ in a
// number, date, version or negation: what Run reports as a possible
// contradiction, for passages already at hand.
type Disagreement struct {
	A, B        int      // indexes into the passages given
	Differences []string // e.g. "10s / 30s"
}

// Disagreements finds the pairs of texts from different files (paths[i]
// names text i's file) that audit would flag as possibly contradicting.
func Disagreements(texts, paths []string) []Disagreement {
	var out []Disagreement
	for i := range texts {
		for j := i + 1; j < len(texts); j++ {
			if paths[i] == paths[j] {
				continue
			}
			diff := differences(factsOf(texts[i]), factsOf(texts[j]))
			if len(diff) == 0 || jaccard(shingles(masked(texts[i])), shingles(masked(texts[j]))) < contradictionThreshold {
				continue
			}
			out = append(out, Disagreement{A: i, B: j, Differences: diff})
		}
	}
	return out
}
