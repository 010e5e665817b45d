package chunk

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cutPoint returns where the piece of t that starts at a must end so that
// cost(t[a:end]) <= budget, and where the text after it resumes (past the
// whitespace at the cut). It prefers, in order: a blank line, a sentence end
// (prose only), a line end, a word boundary, a boundary between estimator
// units inside a word, and last a rune boundary inside one enormous word.
// Blank lines and sentence ends only count when the piece reaches a third of
// the budget; in code any line end beats cutting a line. Only ends beyond
// minEnd are considered. c is cost(t[a:end]). t[a] must not be whitespace;
// budget must be >= 2. It returns end -1 when nothing fits.
func cutPoint(t string, a, minEnd, budget int, prose bool) (end, next, c int) {
	type mark struct{ end, next, cost int }
	none := mark{end: -1}
	para, sent, line, word, unit := none, none, none, none, none
	sum := 0
	sentPunct := false // the last non-closing unit was . ! or ?
	i := a
	for i < len(t) {
		j, c, cls, nl := scanUnit(t, i, budget-sum)
		if cls == clsSpace {
			if i > minEnd {
				m := mark{i, j, sum}
				word = m
				if nl > 0 {
					line = m
				}
				if nl > 1 {
					para = m
				}
				if sentPunct {
					sent = m
				}
			}
			sentPunct = false
			i = j
			continue
		}
		if sum+c > budget {
			if unit.end < 0 && j > minEnd {
				// Nothing fits before this unit ends: cut inside it.
				if cls == clsOther || budget-sum < 1 {
					return -1, -1, 0 // one rune that does not fit
				}
				k := cutInside(t, i, j, budget-sum, cls)
				return k, k, cost(t[a:k])
			}
			break
		}
		sum += c
		switch {
		case c == 1 && j-i == 1 && (t[i] == '.' || t[i] == '!' || t[i] == '?'):
			sentPunct = true
		case c == 1 && j-i == 1 && (t[i] == '"' || t[i] == '\'' || t[i] == ')' || t[i] == ']'):
			// closing marks keep a sentence end pending
		case cls == clsOther && j-i == 3 && isFullStop(t[i:j]):
			sentPunct = false
			if j > minEnd {
				sent = mark{j, j, sum}
			}
		default:
			sentPunct = false
		}
		i = j
		if i > minEnd {
			unit = mark{i, i, sum}
		}
	}
	if i >= len(t) {
		return len(t), len(t), sum
	}
	third := budget / 3
	var m mark
	switch {
	case para.end >= 0 && para.cost >= third:
		m = para
	case prose && sent.end >= 0 && sent.cost >= third:
		m = sent
	case line.end >= 0 && (!prose || line.cost >= third):
		m = line
	case word.end >= 0:
		m = word
	case unit.end >= 0:
		m = unit
	default:
		return -1, -1, 0
	}
	return m.end, m.next, m.cost
}

// isFullStop reports whether s is a CJK full stop, exclamation or question
// mark, after which a sentence ends without a space.
func isFullStop(s string) bool {
	return s == "。" || s == "！" || s == "？"
}

// cutInside cuts the unit t[i:j] of class cls after as many runes as rem
// tokens allow, at least one rune so that the cut always advances.
func cutInside(t string, i, j, rem int, cls class) int {
	n := runesFor(cls, rem)
	if n < 1 {
		n = 1
	}
	k := i
	for ; n > 0 && k < j; n-- {
		_, w := utf8.DecodeRuneInString(t[k:])
		k += w
	}
	return k
}

// overlapStart returns where the overlap before end begins: the earliest
// sentence start, else word start (line start in line mode), after a whose
// text up to end costs at most overlap. It returns end when no such start
// exists. It looks back a bounded distance, so an enormous word costs
// nothing.
func overlapStart(t string, a, end, overlap int, lines bool) int {
	if overlap <= 0 {
		return end
	}
	floor := end - 16*overlap - 64
	if floor < a {
		floor = a
	}
	best, sentence, total := end, end, 0
	p := end // start of the segment already counted
	for {
		// find the start of the segment before p: skip whitespace, then non-space
		q := p
		for q > floor {
			r, w := utf8.DecodeLastRuneInString(t[:q])
			if !unicode.IsSpace(r) {
				break
			}
			q -= w
		}
		s := q
		for s > floor {
			r, w := utf8.DecodeLastRuneInString(t[:s])
			if unicode.IsSpace(r) && (!lines || r == '\n') {
				break
			}
			s -= w
		}
		if s <= floor || s >= q {
			break // ran into the limit or the piece start
		}
		total += cost(t[s:q])
		if total > overlap {
			break
		}
		best, p = s, s
		if !lines {
			before := strings.TrimRightFunc(t[:s], unicode.IsSpace)
			if r, _ := utf8.DecodeLastRuneInString(before); r == '.' || r == '!' || r == '?' {
				sentence = s
			}
		}
	}
	if sentence < end {
		return sentence
	}
	return best
}
