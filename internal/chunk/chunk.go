// Package chunk cuts an extract.Document into chunks sized for a local
// embedding model, and estimates how many tokens a text costs that model.
//
// Split merges consecutive blocks under the same heading path (and, for PDFs,
// on the same page) while the budget allows, keeps a heading block with the
// content under it, keeps a code block whole when it fits, and cuts larger
// blocks at blank lines, sentence ends, line ends, word boundaries and, for one
// enormous word, rune boundaries. Every non-space byte of the document lands in
// some chunk; nothing is dropped to make a budget. Resplit cuts one chunk again
// with a smaller budget, for when the model still found it too long.
//
// The package does not embed, store, or know any tokenizer: rag cannot read
// the model's vocabulary, so EstimateTokens guesses, and guesses high.
//
// # Calibration of EstimateTokens
//
// Measured over 1.5 KB windows against two tokenizers available offline: the
// Llama 3.2 byte-level BPE (128k vocabulary, the test data of
// github.com/ollama/ollama/tokenizer) and a WordPiece built by Ollama's own
// WordPiece code on the 30k most frequent of those BPE pieces, lower-cased,
// as a stand-in for BERT's 30k uncased vocabulary (no real BERT vocabulary is
// in the module cache). Ratio estimate/actual, whole corpus (worst window):
//
//	corpus                         BPE           WordPiece~30k
//	English prose (War and Peace)  1.25 (1.07)   1.19 (1.04)
//	Go source (cobra)              1.37 (0.99)   1.21 (1.07)
//	C++ source (llama-vocab)       1.43 (0.86)   1.18 (1.04)
//	Markdown READMEs               1.42 (0.46)   1.24 (0.97)
//	JSON                           1.10 (0.75)   1.19 (1.00)
//	random base64                  1.07 (1.02)   1.16 (1.14)
//	random hex                     1.17 (1.12)   1.17 (1.14)
//	random lower-case letters      1.11 (1.05)   1.08 (1.03)
//	random digits and spaces       1.08 (1.01)   1.42 (1.39)
//
// English prose comes out at about 1.7 estimated tokens per word,
// punctuation included, against 1.35 (BPE) and 1.43 (the WordPiece stand-in)
// real ones. The BPE undercounts are
// whitespace runs (table padding, indentation) and BMP emoji, which a
// byte-level BPE pays for and a BERT tokenizer drops or maps to one [UNK];
// rag's default models are BERT WordPiece, so they are not counted. Random
// strings fragment into near single letters; a first estimator (ceil(len/4)
// per letter run) gave 0.43 on them, so letter runs are also split at letter
// pairs that are rare in English and Go (a 26x26 table, under 0.03% of letter
// pairs in the corpora above), which brings random text above 1 and moves
// prose by under 1%. Letters of non-Latin scripts count one token each:
// English BERT vocabularies hold few pieces for them, so this is right for
// all-minilm and mxbai-embed-large and high for bge-m3. Ollama answers a chunk
// that is still too long with an error; rag then calls Resplit.
package chunk

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ragcli/rag/internal/extract"
)

// MinTokens is the smallest budget Split and Resplit honour; smaller budgets
// are raised to it, since a chunk must hold a heading line and some text.
const MinTokens = 64

// maxTitleTokens caps the title in the heading line, so that a title can
// never take the budget of a chunk.
const maxTitleTokens = 24

// Options sets the size of chunks.
type Options struct {
	MaxTokens int // hard budget per chunk INCLUDING the heading prefix (estimated tokens); required > 0
	Overlap   int // estimated tokens of trailing context repeated at the start of the next chunk when a long block is split (0 = none); never across headings
}

// Chunk is a piece of a document small enough to embed, with where it came
// from.
type Chunk struct {
	Text      string   // the chunk's own text, as shown to users
	Headings  []string // heading path in force for the chunk (of its first block)
	StartLine int      // 1-based source line range, 0 when unknown
	EndLine   int
	Page      int // PDF page (of its first block), 0 otherwise
	// Anchor is the citation fragment of its first block ("slide=2",
	// "sheet=Q1&row=5"; see extract.Block.Anchor); blocks with different
	// anchors never share a chunk.
	Anchor string
}

// EmbedText is what gets embedded: the document title and heading path on a
// first line ("Title > H1 > H2"), a blank line, then Text. The title may be
// empty; a title longer than a couple of dozen tokens is shortened. With
// neither title nor headings it is Text alone.
func (c Chunk) EmbedText(title string) string {
	line := headingLine(title, c.Headings)
	if line == "" {
		return c.Text
	}
	return line + "\n\n" + c.Text
}

// Split cuts doc into chunks whose EmbedText(doc.Title) each estimate to at
// most opts.MaxTokens (raised to MinTokens if smaller). Output is
// deterministic; no chunk is blank.
func Split(doc *extract.Document, opts Options) []Chunk {
	if doc == nil {
		return nil
	}
	p := newPacker(doc.Title, opts.MaxTokens, opts.Overlap)
	for i := range doc.Blocks {
		p.block(&doc.Blocks[i])
	}
	p.flush()
	return p.out
}

// Resplit cuts one chunk's text into pieces whose EmbedText(title) each
// estimate to at most maxTokens (raised to MinTokens if smaller); rag uses it
// after the model rejected c as too long. The pieces keep c's headings and
// page, and divide c's line range when it is known. A chunk that already fits
// comes back alone.
func Resplit(c Chunk, title string, maxTokens int) []Chunk {
	p := newPacker(title, maxTokens, 0)
	b := extract.Block{
		Text:      c.Text,
		Kind:      extract.KindParagraph,
		Headings:  c.Headings,
		StartLine: c.StartLine,
		EndLine:   c.EndLine,
		Page:      c.Page,
		Anchor:    c.Anchor,
	}
	p.block(&b)
	p.flush()
	return p.out
}

// packer builds chunks from blocks in order.
type packer struct {
	title        string
	max, overlap int
	out          []Chunk

	// The chunk being built.
	parts       []string
	cost        int // estimated tokens of the parts, without the heading line
	budget      int // tokens the parts may cost
	raw         []string
	headings    []string
	page        int
	anchor      string
	start, end  int
	headingOnly bool

	// The last heading path fitted, since consecutive chunks share it.
	fitOK     bool
	fitRaw    []string
	fitOut    []string
	fitBudget int
}

func newPacker(title string, maxTokens, overlap int) *packer {
	maxTokens = max(maxTokens, MinTokens)
	overlap = min(max(overlap, 0), maxTokens/4)
	return &packer{title: title, max: maxTokens, overlap: overlap}
}

// fit returns the heading path to show for a chunk under hs, shortened if it
// would take more than half the budget, and the tokens left for text.
func (p *packer) fit(hs []string) ([]string, int) {
	if p.fitOK && slices.Equal(hs, p.fitRaw) {
		return p.fitOut, p.fitBudget
	}
	f := fitHeadings(p.title, hs, (p.max-specialTokens)/2)
	p.fitOK, p.fitRaw, p.fitOut = true, hs, f
	p.fitBudget = p.max - specialTokens - cost(headingLine(p.title, f))
	return p.fitOut, p.fitBudget
}

func (p *packer) open(b *extract.Block) {
	hs := b.Headings
	p.raw, p.page, p.anchor = hs, b.Page, b.Anchor
	p.headings, p.budget = p.fit(hs)
	p.headingOnly = true
	p.start, p.end = 0, 0
}

func (p *packer) add(text string, start, end int, heading bool, c int) {
	p.parts = append(p.parts, text)
	p.cost += c
	if !heading {
		p.headingOnly = false
	}
	if start > 0 && (p.start == 0 || start < p.start) {
		p.start = start
	}
	p.end = max(p.end, end)
}

func (p *packer) flush() {
	if len(p.parts) == 0 {
		return
	}
	text := p.parts[0]
	if len(p.parts) > 1 {
		text = strings.Join(p.parts, "\n\n")
	}
	c := Chunk{Text: text, Headings: p.headings, StartLine: p.start, EndLine: max(p.end, p.start), Page: p.page, Anchor: p.anchor}
	p.out = append(p.out, c)
	clear(p.parts)
	p.parts = p.parts[:0]
	p.cost = 0
}

// block adds one block: to the open chunk when it belongs there and fits,
// else to a new chunk, else cut into pieces.
func (p *packer) block(b *extract.Block) {
	t, lead := trim(b.Text)
	if t == "" {
		return
	}
	start, end := 0, 0
	if b.StartLine > 0 {
		start = b.StartLine + strings.Count(b.Text[:lead], "\n")
		end = b.EndLine
		if end < start {
			end = start + strings.Count(t, "\n")
		}
	}
	join := len(p.parts) > 0 &&
		(slices.Equal(p.raw, b.Headings) && p.page == b.Page && p.anchor == b.Anchor ||
			p.headingOnly && hasPrefix(b.Headings, p.raw))
	if !join {
		p.flush()
		p.open(b)
	}
	heading := b.Kind == extract.KindHeading
	_, fresh := p.fit(b.Headings)
	c := costAtMost(t, max(p.budget-p.cost, fresh))
	if p.cost+c <= p.budget {
		p.add(t, start, end, heading, c)
		return
	}
	// It does not fit in the open chunk. A block that fits a chunk of its
	// own gets one, unless the open chunk is only headings: then prose is cut
	// so its start stays with its heading, while code stays whole.
	if c <= fresh && (!p.headingOnly || b.Kind == extract.KindCode) {
		p.flush()
		p.open(b)
		p.add(t, start, end, heading, c)
		return
	}
	p.split(b, t, start, end)
}

// split cuts t, the trimmed text of b, into pieces: the first joins the open
// chunk if a quarter of its budget is left, the last stays open for the
// blocks that follow. Each piece after the first repeats up to p.overlap
// tokens of the one before.
func (p *packer) split(b *extract.Block, t string, start, end int) {
	prose := b.Kind == extract.KindParagraph || b.Kind == extract.KindHeading
	heading := b.Kind == extract.KindHeading
	if len(p.parts) > 0 && p.budget-p.cost < p.budget/4 {
		p.flush()
	}
	if len(p.parts) == 0 {
		p.open(b)
	}
	room := p.budget - p.cost

	// Line numbers: line is the line of t[pos], moved forward only.
	pos, line := 0, start
	lineAt := func(off int) int {
		if start == 0 {
			return 0
		}
		if off >= pos {
			line += strings.Count(t[pos:off], "\n")
			pos = off
			return min(line, end)
		}
		return min(line-strings.Count(t[off:pos], "\n"), end)
	}

	a, minEnd, resume := 0, 0, 0
	for {
		e, next, c := cutPoint(t, a, minEnd, room, prose)
		if e <= minEnd {
			if a != resume { // the overlap left no room: go on without it
				a, minEnd = resume, resume
				continue
			}
			// A single rune over the budget cannot happen with budgets
			// of MinTokens; take it anyway rather than loop.
			_, w := utf8.DecodeRuneInString(t[a:])
			e, next = a+w, a+w
			c = cost(t[a:e])
		}
		ps := lineAt(a)
		pe := lineAt(e)
		if e >= len(t) {
			pe = end
		}
		p.add(t[a:e], ps, pe, heading, c)
		if e >= len(t) {
			return
		}
		p.flush()
		p.open(b)
		room = p.budget
		resume = next
		for resume < len(t) {
			r, w := utf8.DecodeRuneInString(t[resume:])
			if !unicode.IsSpace(r) {
				break
			}
			resume += w
		}
		ov := overlapStart(t, a, e, min(p.overlap, room/2), !prose)
		if ov < e {
			a, minEnd = ov, e
		} else {
			a, minEnd = resume, resume
		}
	}
}

// trim returns s without surrounding whitespace, and how many bytes were cut
// from its start.
func trim(s string) (string, int) {
	l := strings.TrimLeftFunc(s, unicode.IsSpace)
	return strings.TrimRightFunc(l, unicode.IsSpace), len(s) - len(l)
}

func hasPrefix(hs, prefix []string) bool {
	return len(hs) >= len(prefix) && slices.Equal(hs[:len(prefix)], prefix)
}

// headingLine is the first line of EmbedText: title and headings, each on
// one line, joined by " > ".
func headingLine(title string, hs []string) string {
	t := truncateTokens(oneLine(title), maxTitleTokens)
	if t == "" && len(hs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(hs)+1)
	if t != "" {
		parts = append(parts, t)
	}
	for _, h := range hs {
		if h = oneLine(h); h != "" {
			parts = append(parts, h)
		}
	}
	return strings.Join(parts, " > ")
}

// fitHeadings returns hs, or a shortened copy whose heading line with title
// costs at most allowance tokens: each heading is truncated to its share,
// then outer headings are dropped.
func fitHeadings(title string, hs []string, allowance int) []string {
	if cost(headingLine(title, hs)) <= allowance {
		return hs
	}
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		if h = oneLine(h); h != "" {
			out = append(out, h)
		}
	}
	rem := allowance - cost(headingLine(title, nil)) - len(out)
	if len(out) > 0 && rem >= len(out) {
		per := rem / len(out)
		kept := out[:0]
		for _, h := range out {
			if h = truncateTokens(h, per); h != "" {
				kept = append(kept, h)
			}
		}
		out = kept
	}
	// Drop outer headings: the line costs the title, each heading, and one
	// token for each " > ".
	total := cost(headingLine(title, nil))
	costs := make([]int, len(out))
	for i, h := range out {
		costs[i] = cost(h)
		total += costs[i] + 1
	}
	for len(out) > 0 && total > allowance {
		total -= costs[0] + 1
		out, costs = out[1:], costs[1:]
	}
	for len(out) > 0 && cost(headingLine(title, out)) > allowance {
		out = out[1:] // only if the sum above was off; it is not
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// oneLine collapses the whitespace of s to single spaces.
func oneLine(s string) string {
	if s == "" {
		return ""
	}
	return strings.Join(strings.Fields(s), " ")
}

// truncateTokens returns the longest prefix of s, cut at a rune boundary and
// without trailing space, that costs at most n tokens. The cost of a prefix
// never exceeds the cost of the whole, so a binary search finds it.
func truncateTokens(s string, n int) string {
	if cost(s) <= n {
		return s
	}
	lo, hi := 0, len(s) // cost(s[:lo]) <= n < cost(s[:hi])
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		for mid > lo && !utf8.RuneStart(s[mid]) {
			mid--
		}
		if mid == lo {
			mid = lo + (hi-lo)/2
			for mid < hi && !utf8.RuneStart(s[mid]) {
				mid++
			}
			if mid == hi {
				break
			}
		}
		if cost(s[:mid]) <= n {
			lo = mid
		} else {
			hi = mid
		}
	}
	// Prefer ending at a word boundary when there is one.
	if lo < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[lo:]); !unicode.IsSpace(r) {
			if k := strings.LastIndexFunc(s[:lo], unicode.IsSpace); k > 0 {
				lo = k
			}
		}
	}
	return strings.TrimRightFunc(s[:lo], unicode.IsSpace)
}
