package pdftext

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Layout tuning, in units of the font size (em) unless noted. The values were
// chosen on the py-pdf sample files; see TestWordRecallPyPDFSamples.
const (
	// spaceGap is the horizontal gap between glyphs above which a word
	// break is assumed. Kerning stays well below it, word spaces of
	// justified text (at least about 0.2 em) above it.
	spaceGap = 0.15
	// pieceGap splits a line into pieces for column detection: word
	// spaces are narrower, a column gutter is wider.
	pieceGap = 0.6
	// lineTol is how far a baseline may sit from its line's baselines and
	// still belong to it; superscripts and subscripts stay on the line.
	lineTol = 0.5
	// paraFactor marks a paragraph break where the baseline gap exceeds
	// this multiple of the block's median line gap.
	paraFactor = 1.45
)

// line is a row of glyphs sharing a baseline, sorted left to right.
type line struct {
	gs     []glyph
	y      float64 // baseline of the first (highest) glyph
	size   float64 // largest font size
	pieces [][2]float64
}

// layout orders the glyphs of a page into text: lines top to bottom, words
// separated by spaces, paragraphs by blank lines, and the left column of a
// two-column page before the right one.
func layout(gs []glyph) string {
	gs = orient(gs)
	if len(gs) == 0 {
		return ""
	}
	lines := buildLines(gs)
	var b strings.Builder
	for _, blk := range readingOrder(lines, 0) {
		t := blockText(blk.lines)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			if blk.continues {
				b.WriteString("\n")
			} else {
				b.WriteString("\n\n")
			}
		}
		b.WriteString(t)
	}
	return b.String()
}

// orient rotates all glyphs so that the most common baseline direction runs
// left to right, fixes degenerate font sizes, and drops glyphs that are not
// text.
func orient(gs []glyph) []glyph {
	var count [4]int
	var sizes []float64
	for _, g := range gs {
		if strings.TrimSpace(g.s) != "" {
			count[g.dir&3]++
			if g.size > 0.5 && g.size < 500 {
				sizes = append(sizes, g.size)
			}
		}
	}
	dom := 0
	for d := 1; d < 4; d++ {
		if count[d] > count[dom] {
			dom = d
		}
	}
	med := 10.0
	if len(sizes) > 0 {
		slices.Sort(sizes)
		med = sizes[len(sizes)/2]
	}
	out := gs[:0]
	for _, g := range gs {
		g.s = cleanGlyph(g.s)
		if g.s == "" {
			continue
		}
		x, y := g.x, g.y
		switch dom {
		case 1:
			g.x, g.y = y, -x
		case 2:
			g.x, g.y = -x, -y
		case 3:
			g.x, g.y = -y, x
		}
		if !(g.size > 0.5 && g.size < 500) {
			g.size = med
		}
		if math.IsNaN(g.x) || math.IsNaN(g.y) || math.IsInf(g.x, 0) || math.IsInf(g.y, 0) {
			continue
		}
		if !(g.w >= 0 && g.w < 10*g.size) {
			g.w = 0.5 * g.size
		}
		out = append(out, g)
	}
	return out
}

// ligatures maps presentation forms to their letters, so "ﬁnd" matches "find".
var ligatures = strings.NewReplacer(
	"\uFB00", "ff", "\uFB01", "fi", "\uFB02", "fl", "\uFB03", "ffi", "\uFB04", "ffl",
	"\uFB05", "st", "\uFB06", "st", "\u00A0", " ", "\u2002", " ", "\u2003", " ",
	"\u2009", " ", "\t", " ",
)

// cleanGlyph expands ligatures and drops control, replacement and
// private-use runes; it returns " " for any whitespace.
func cleanGlyph(s string) string {
	s = ligatures.Replace(s)
	if strings.TrimSpace(s) == "" {
		if s == "" {
			return ""
		}
		return " "
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if isJunk(r) {
			return -1
		}
		return r
	}, s)
	if t := strings.Join(strings.Fields(s), " "); t != "" || s == "" {
		return t
	}
	return " "
}

// isJunk reports runes that never belong in extracted text.
func isJunk(r rune) bool {
	return r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.Is(unicode.Co, r)
}

// buildLines groups glyphs by baseline, top to bottom.
func buildLines(gs []glyph) []*line {
	sort.SliceStable(gs, func(i, j int) bool {
		if gs[i].y != gs[j].y {
			return gs[i].y > gs[j].y
		}
		return gs[i].x < gs[j].x
	})
	var lines []*line
	var cur *line
	var minY float64
	for _, g := range gs {
		if cur != nil {
			tol := lineTol * math.Max(g.size, cur.size)
			if g.y >= minY-tol && cur.y-g.y <= 0.8*math.Max(g.size, cur.size) {
				cur.gs = append(cur.gs, g)
				cur.size = math.Max(cur.size, g.size)
				minY = math.Min(minY, g.y)
				continue
			}
		}
		cur = &line{gs: []glyph{g}, y: g.y, size: g.size}
		minY = g.y
		lines = append(lines, cur)
	}
	for _, l := range lines {
		sort.SliceStable(l.gs, func(i, j int) bool {
			if l.gs[i].x != l.gs[j].x {
				return l.gs[i].x < l.gs[j].x
			}
			return l.gs[i].order < l.gs[j].order
		})
		l.gs = dedupe(l.gs)
		l.pieces = pieces(l.gs)
	}
	return lines
}

// dedupe drops glyphs drawn twice at almost the same place, which producers
// use to fake bold text.
func dedupe(gs []glyph) []glyph {
	out := gs[:0]
	for _, g := range gs {
		if n := len(out); n > 0 {
			p := out[n-1]
			if p.s == g.s && g.s != " " && math.Abs(g.x-p.x) < 0.3*math.Max(p.w, 0.2*p.size) && math.Abs(g.y-p.y) < 0.1*p.size {
				continue
			}
		}
		out = append(out, g)
	}
	return out
}

// pieces returns the horizontal extents of the line's runs of text that are
// separated by gaps wider than pieceGap.
func pieces(gs []glyph) [][2]float64 {
	var ps [][2]float64
	for _, g := range gs {
		if g.s == " " {
			continue
		}
		x0, x1 := g.x, g.x+g.w
		if n := len(ps); n > 0 && x0-ps[n-1][1] < pieceGap*g.size {
			ps[n-1][1] = math.Max(ps[n-1][1], x1)
			continue
		}
		ps = append(ps, [2]float64{x0, x1})
	}
	return ps
}

// block is a run of lines read in order.
type block struct {
	lines     []*line
	continues bool // the block continues the text of the previous one
}

// readingOrder splits lines into blocks in reading order. Where the lines
// show a two-column layout, the block of left halves comes before the block
// of right halves; lines that cross the gutter (titles, footers) stay whole
// and separate the column blocks above and below them.
func readingOrder(lines []*line, depth int) []block {
	gutter, ok := findGutter(lines)
	if !ok && depth == 0 {
		// A paper's title, authors and affiliations run across the
		// gutter above the columns, too many lines for findGutter to
		// allow: read them as one block, then look for columns below.
		if head := spanningHead(lines); head > 0 && head < len(lines) {
			if _, ok := findGutter(lines[head:]); ok {
				return append([]block{{lines: lines[:head]}}, readingOrder(lines[head:], depth+1)...)
			}
		}
	}
	if !ok || depth > 2 {
		return []block{{lines: lines}}
	}
	var out []block
	var left, right []*line
	flush := func() {
		if len(left) > 0 {
			out = append(out, readingOrder(left, depth+1)...)
		}
		if len(right) > 0 {
			rs := readingOrder(right, depth+1)
			// The right column usually continues the sentence that
			// ends the left one.
			rs[0].continues = len(left) > 0
			out = append(out, rs...)
		}
		left, right = nil, nil
	}
	for _, l := range lines {
		if crosses(l, gutter) {
			flush()
			out = append(out, block{lines: []*line{l}})
			continue
		}
		var lg, rg []glyph
		for _, g := range l.gs {
			if g.x+g.w/2 < gutter {
				lg = append(lg, g)
			} else {
				rg = append(rg, g)
			}
		}
		if len(lg) > 0 {
			left = append(left, subLine(l, lg))
		}
		if len(rg) > 0 {
			right = append(right, subLine(l, rg))
		}
	}
	flush()
	return out
}

// spanningHead returns how many lines at the top of the page hold a single
// run of text across the page's middle, as a centred title block does.
func spanningHead(lines []*line) int {
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, p := range l.pieces {
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[1])
		}
	}
	mid := (minX + maxX) / 2
	n := 0
	for n < len(lines) && len(lines[n].pieces) == 1 && crosses(lines[n], mid) {
		n++
	}
	return n
}

func subLine(l *line, gs []glyph) *line {
	n := &line{gs: gs, y: l.y}
	for _, g := range gs {
		n.size = math.Max(n.size, g.size)
	}
	n.pieces = pieces(gs)
	return n
}

// crosses reports whether a piece of the line spans x.
func crosses(l *line, x float64) bool {
	for _, p := range l.pieces {
		if p[0] < x && x < p[1] {
			return true
		}
	}
	return false
}

// findGutter looks for a vertical strip that few lines cross, with text on
// both sides in many lines, and with the text on each side filling its
// column as prose does (tables, whose cells leave wide gaps, do not count).
// It returns the x of the strip's middle.
func findGutter(lines []*line) (float64, bool) {
	if len(lines) < 6 {
		return 0, false
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	var sizes []float64
	for _, l := range lines {
		for _, p := range l.pieces {
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[1])
		}
		sizes = append(sizes, l.size)
	}
	width := maxX - minX
	if !(width > 0) || math.IsInf(width, 0) {
		return 0, false
	}
	slices.Sort(sizes)
	size := sizes[len(sizes)/2]
	const bins = 1000
	step := width / bins
	var cover [bins]int
	for _, l := range lines {
		for _, p := range l.pieces {
			a := int((p[0] - minX) / step)
			b := int((p[1] - minX) / step)
			for i := max(a, 0); i <= b && i < bins; i++ {
				cover[i]++
			}
		}
	}
	allow := max(1, len(lines)/10)
	best, bestScore := 0.0, 0.0
	for i := bins / 5; i < bins*4/5; {
		if cover[i] > allow {
			i++
			continue
		}
		j := i
		for j < bins*4/5 && cover[j] <= allow {
			j++
		}
		a, b := minX+float64(i)*step, minX+float64(j)*step
		i = j
		if b-a < 0.5*size {
			continue
		}
		mid := (a + b) / 2
		if score, ok := columnScore(lines, minX, a, b, maxX, mid); ok && score > bestScore {
			best, bestScore = mid, score
		}
	}
	return best, bestScore > 0
}

// columnScore checks the two sides of a candidate gutter [a, b].
func columnScore(lines []*line, minX, a, b, maxX, mid float64) (float64, bool) {
	var nl, nr, cross int
	var fillL, fillR float64
	for _, l := range lines {
		if crosses(l, mid) {
			cross++
			continue
		}
		var wl, wr float64
		for _, p := range l.pieces {
			if p[1] <= mid {
				wl += p[1] - p[0]
			} else {
				wr += p[1] - p[0]
			}
		}
		if wl > 0 {
			nl++
			fillL += wl / (a - minX)
		}
		if wr > 0 {
			nr++
			fillR += wr / (maxX - b)
		}
	}
	need := max(3, len(lines)/5)
	if nl < need || nr < need || len(lines)-cross < len(lines)/2 {
		return 0, false
	}
	fillL /= float64(nl)
	fillR /= float64(nr)
	if fillL < 0.45 || fillR < 0.45 {
		return 0, false
	}
	return float64(min(nl, nr)) * (b - a), true
}

// blockText joins the lines of one block, with blank lines between
// paragraphs and words hyphenated across lines rejoined.
func blockText(lines []*line) string {
	var gaps []float64
	for i := 1; i < len(lines); i++ {
		if d := lines[i-1].y - lines[i].y; d > 0 {
			gaps = append(gaps, d)
		}
	}
	med := 0.0
	if len(gaps) > 0 {
		slices.Sort(gaps)
		med = gaps[len(gaps)/2]
	}
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = lineText(l.gs)
	}
	var b strings.Builder
	for i := range lines {
		if texts[i] == "" {
			continue
		}
		if b.Len() > 0 {
			d := lines[i-1].y - lines[i].y
			big := med > 0 && d > paraFactor*med && d > 1.2*lines[i].size
			if big || d > 2.5*math.Max(lines[i].size, lines[i-1].size) {
				b.WriteString("\n\n")
			} else if dehyphenate(&b, texts, i) {
				continue
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(texts[i])
	}
	return strings.TrimSpace(b.String())
}

// dehyphenate handles a line that ends in "letter-" followed by a line that
// starts with a lower-case letter: it drops the hyphen and moves the first
// word of the next line up. It reports whether it wrote texts[i].
func dehyphenate(b *strings.Builder, texts []string, i int) bool {
	prev := b.String()
	next := texts[i]
	pr := []rune(prev)
	if len(pr) < 3 || (pr[len(pr)-1] != '-' && pr[len(pr)-1] != '\u00AD') || !unicode.IsLetter(pr[len(pr)-2]) {
		return false
	}
	nr := []rune(next)
	if len(nr) == 0 || !unicode.IsLower(nr[0]) {
		return false
	}
	word, rest, _ := strings.Cut(next, " ")
	b.Reset()
	b.WriteString(string(pr[:len(pr)-1]))
	b.WriteString(word)
	if rest != "" {
		b.WriteByte('\n')
		b.WriteString(rest)
	}
	return true
}

// lineText joins glyphs sorted left to right, inserting a space where the
// gap between one glyph's end and the next one's start is wide.
func lineText(gs []glyph) string {
	var b strings.Builder
	space := false
	var prev *glyph
	for i := range gs {
		g := &gs[i]
		if g.s == " " {
			space = b.Len() > 0
			continue
		}
		if prev != nil && !space {
			gap := g.x - (prev.x + prev.w)
			if gap > spaceGap*math.Max(g.size, prev.size) {
				space = true
			}
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteString(g.s)
		prev = g
	}
	return strings.TrimSpace(b.String())
}

// normalize trims trailing spaces of lines and surrounding blank lines.
func normalize(s string) string {
	s = ligatures.Replace(s)
	s = strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if isJunk(r) {
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// isGarbage reports whether the raw text of a page is mostly unreadable:
// replacement, private-use or control runes where letters should be, as
// font-encoding failures produce.
func isGarbage(raw string) bool {
	var good, bad, total int
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			good++
		case r == unicode.ReplacementChar || unicode.Is(unicode.Co, r) || unicode.IsControl(r):
			bad++
		}
		total++
	}
	if total == 0 {
		return false
	}
	return bad*10 > total*3 || good*4 < total
}
