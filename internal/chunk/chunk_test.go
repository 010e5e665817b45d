package chunk

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ragcli/rag/internal/extract"
)

// checkChunks asserts the invariants every Split or Resplit result keeps:
// the budget, no blank chunk, valid UTF-8 out of valid UTF-8 in, and every
// non-space rune of the input present in the output.
func checkChunks(t testing.TB, title string, inputs []string, maxTokens int, chunks []Chunk) {
	t.Helper()
	maxTokens = max(maxTokens, MinTokens)
	valid := true
	in := map[rune]int{}
	for _, s := range inputs {
		valid = valid && utf8.ValidString(s)
		for _, r := range s {
			if !unicode.IsSpace(r) {
				in[r]++
			}
		}
	}
	out := map[rune]int{}
	for i, c := range chunks {
		if strings.TrimSpace(c.Text) == "" {
			t.Errorf("chunk %d is blank: %q", i, c.Text)
		}
		if got := EstimateTokens(c.EmbedText(title)); got > maxTokens {
			t.Errorf("chunk %d estimates %d tokens, budget %d", i, got, maxTokens)
		}
		if valid && !utf8.ValidString(c.Text) {
			t.Errorf("chunk %d is not valid UTF-8", i)
		}
		if c.EndLine < c.StartLine {
			t.Errorf("chunk %d: lines %d-%d", i, c.StartLine, c.EndLine)
		}
		for _, r := range c.Text {
			if !unicode.IsSpace(r) {
				out[r]++
			}
		}
	}
	for r, n := range in {
		if out[r] < n {
			t.Errorf("rune %q: %d in input, %d in chunks", r, n, out[r])
			break
		}
	}
}

func texts(doc *extract.Document) []string {
	var s []string
	for _, b := range doc.Blocks {
		s = append(s, b.Text)
	}
	return s
}

func words(n int, seed uint64) string {
	vocab := strings.Fields("the of and a to in is you that it he was for on are as with his they I at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part retrieval embedding chunk")
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for i := range n {
		if i > 0 {
			if i%13 == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(vocab[r.IntN(len(vocab))])
	}
	b.WriteByte('.')
	return b.String()
}

func numberedLines(from, n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%sL%d x := compute(%d) // some words here", prefix, from+i, i)
	}
	return b.String()
}

func TestSplit(t *testing.T) {
	long := words(2000, 1)
	code := numberedLines(10, 300, "")
	bigLine := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 30000) // ~1 MB, one word
	cjk := strings.Repeat("検索拡張生成は文書を小さな断片に分けて埋め込む。", 200)

	tests := []struct {
		name  string
		doc   extract.Document
		opts  Options
		check func(t *testing.T, cs []Chunk)
	}{
		{
			name: "heading merged with its content",
			doc: extract.Document{Title: "Guide", Blocks: []extract.Block{
				{Text: "# Intro", Kind: extract.KindHeading, Headings: []string{"Intro"}, StartLine: 1, EndLine: 1},
				{Text: "Hello there.", Kind: extract.KindParagraph, Headings: []string{"Intro"}, StartLine: 3, EndLine: 3},
				{Text: "More text.", Kind: extract.KindParagraph, Headings: []string{"Intro"}, StartLine: 5, EndLine: 5},
				{Text: "## Usage", Kind: extract.KindHeading, Headings: []string{"Intro", "Usage"}, StartLine: 7, EndLine: 7},
				{Text: "Run it.", Kind: extract.KindParagraph, Headings: []string{"Intro", "Usage"}, StartLine: 9, EndLine: 9},
			}},
			opts: Options{MaxTokens: 512},
			check: func(t *testing.T, cs []Chunk) {
				want := []Chunk{
					{Text: "# Intro\n\nHello there.\n\nMore text.", Headings: []string{"Intro"}, StartLine: 1, EndLine: 5},
					{Text: "## Usage\n\nRun it.", Headings: []string{"Intro", "Usage"}, StartLine: 7, EndLine: 9},
				}
				if !chunksEqual(cs, want) {
					t.Errorf("got %#v\nwant %#v", cs, want)
				}
				if got, want := cs[1].EmbedText("Guide"), "Guide > Intro > Usage\n\n## Usage\n\nRun it."; got != want {
					t.Errorf("EmbedText = %q, want %q", got, want)
				}
			},
		},
		{
			name: "heading followed by a subheading stays with it",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: "# A", Kind: extract.KindHeading, Headings: []string{"A"}, StartLine: 1, EndLine: 1},
				{Text: "## B", Kind: extract.KindHeading, Headings: []string{"A", "B"}, StartLine: 2, EndLine: 2},
				{Text: "body", Kind: extract.KindParagraph, Headings: []string{"A", "B"}, StartLine: 3, EndLine: 3},
			}},
			opts: Options{MaxTokens: 512},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) != 1 || cs[0].Text != "# A\n\n## B\n\nbody" || !slices.Equal(cs[0].Headings, []string{"A"}) {
					t.Errorf("got %#v", cs)
				}
			},
		},
		{
			name: "heading kept with the start of a long paragraph",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: "# Long", Kind: extract.KindHeading, Headings: []string{"Long"}},
				{Text: long, Kind: extract.KindParagraph, Headings: []string{"Long"}},
			}},
			opts: Options{MaxTokens: 256},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) < 5 || !strings.HasPrefix(cs[0].Text, "# Long\n\n") || len(cs[0].Text) < 200 {
					t.Errorf("want the heading joined to the first piece, got %d chunks, first %q", len(cs), cs[0].Text)
				}
				for i, c := range cs[:len(cs)-1] {
					if !strings.HasSuffix(c.Text, ".") {
						t.Errorf("chunk %d does not end at a sentence: %q", i, c.Text[max(0, len(c.Text)-40):])
					}
				}
			},
		},
		{
			name: "long paragraph with overlap repeats whole sentences",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: long, Kind: extract.KindParagraph, Headings: []string{"Long"}},
			}},
			opts: Options{MaxTokens: 256, Overlap: 40},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) < 5 {
					t.Fatalf("only %d chunks", len(cs))
				}
				for i := 1; i < len(cs); i++ {
					first, _, _ := strings.Cut(cs[i].Text, ".")
					if !strings.Contains(cs[i-1].Text, first+".") {
						t.Errorf("chunk %d does not start with a sentence of chunk %d: %q", i, i-1, first)
					}
				}
			},
		},
		{
			name: "code block that fits is never cut",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: words(150, 2), Kind: extract.KindParagraph, StartLine: 1, EndLine: 1},
				{Text: numberedLines(3, 12, ""), Kind: extract.KindCode, StartLine: 3, EndLine: 14},
			}},
			opts: Options{MaxTokens: 300},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) != 2 || !strings.HasPrefix(cs[1].Text, "L3 ") || cs[1].StartLine != 3 || cs[1].EndLine != 14 {
					t.Errorf("want the code block alone and whole, got %#v", cs)
				}
			},
		},
		{
			name: "long code block cut at lines with correct line numbers",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: code, Kind: extract.KindCode, Headings: []string{"Code"}, StartLine: 10, EndLine: 309},
			}},
			opts: Options{MaxTokens: 200, Overlap: 20},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) < 10 {
					t.Fatalf("only %d chunks", len(cs))
				}
				checkLines(t, cs)
				for i := 1; i < len(cs); i++ {
					if cs[i].StartLine > cs[i-1].EndLine {
						t.Errorf("chunk %d starts at line %d, after %d: no overlap", i, cs[i].StartLine, cs[i-1].EndLine)
					}
				}
				if cs[0].StartLine != 10 || cs[len(cs)-1].EndLine != 309 {
					t.Errorf("range %d-%d", cs[0].StartLine, cs[len(cs)-1].EndLine)
				}
			},
		},
		{
			name: "one line of a megabyte",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: bigLine, Kind: extract.KindParagraph, StartLine: 7, EndLine: 7},
			}},
			opts: Options{MaxTokens: 512, Overlap: 32},
			check: func(t *testing.T, cs []Chunk) {
				total := 0
				for _, c := range cs {
					total += len(c.Text)
					if c.StartLine != 7 || c.EndLine != 7 {
						t.Fatalf("lines %d-%d", c.StartLine, c.EndLine)
					}
				}
				if total != len(bigLine) { // no whitespace, so no overlap either
					t.Errorf("chunks hold %d bytes, line has %d", total, len(bigLine))
				}
			},
		},
		{
			name: "cjk text cut at full stops",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: cjk, Kind: extract.KindParagraph},
			}},
			opts: Options{MaxTokens: 128},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) < 10 {
					t.Fatalf("only %d chunks", len(cs))
				}
				for i, c := range cs[:len(cs)-1] {
					if !strings.HasSuffix(c.Text, "。") {
						t.Errorf("chunk %d ends %q", i, c.Text[len(c.Text)-6:])
					}
				}
			},
		},
		{
			name: "pdf pages are not merged",
			doc: extract.Document{Format: extract.FormatPDF, Blocks: []extract.Block{
				{Text: "page one text", Page: 1},
				{Text: "more on one", Page: 1},
				{Text: "page two text", Page: 2},
			}},
			opts: Options{MaxTokens: 512},
			check: func(t *testing.T, cs []Chunk) {
				want := []Chunk{{Text: "page one text\n\nmore on one", Page: 1}, {Text: "page two text", Page: 2}}
				if !chunksEqual(cs, want) {
					t.Errorf("got %#v", cs)
				}
			},
		},
		{
			name: "blank blocks dropped",
			doc: extract.Document{Blocks: []extract.Block{
				{Text: "  \n\t "}, {Text: ""}, {Text: "\n\nx\n", StartLine: 4, EndLine: 7},
			}},
			opts: Options{MaxTokens: 100},
			check: func(t *testing.T, cs []Chunk) {
				want := []Chunk{{Text: "x", StartLine: 6, EndLine: 7}}
				if !chunksEqual(cs, want) {
					t.Errorf("got %#v", cs)
				}
			},
		},
		{
			name: "enormous heading and title still fit",
			doc: extract.Document{Title: strings.Repeat("title ", 500), Blocks: []extract.Block{
				{Text: "body text", Headings: []string{strings.Repeat("heading ", 500), "inner"}},
			}},
			opts: Options{MaxTokens: 64},
			check: func(t *testing.T, cs []Chunk) {
				if len(cs) != 1 || cs[0].Text != "body text" {
					t.Errorf("got %#v", cs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := Split(&tt.doc, tt.opts)
			checkChunks(t, tt.doc.Title, texts(&tt.doc), tt.opts.MaxTokens, cs)
			if again := Split(&tt.doc, tt.opts); !chunksEqual(cs, again) {
				t.Errorf("Split is not deterministic")
			}
			tt.check(t, cs)
		})
	}
}

// checkLines checks chunks whose every line starts with "L<line number>".
func checkLines(t *testing.T, cs []Chunk) {
	t.Helper()
	for i, c := range cs {
		lines := strings.Split(c.Text, "\n")
		var first, last int
		fmt.Sscanf(strings.TrimSpace(lines[0]), "L%d", &first)
		fmt.Sscanf(strings.TrimSpace(lines[len(lines)-1]), "L%d", &last)
		if first != c.StartLine || last != c.EndLine {
			t.Errorf("chunk %d: text spans lines %d-%d, chunk says %d-%d", i, first, last, c.StartLine, c.EndLine)
		}
	}
}

func chunksEqual(a, b []Chunk) bool {
	return slices.EqualFunc(a, b, func(x, y Chunk) bool {
		return x.Text == y.Text && slices.Equal(x.Headings, y.Headings) &&
			x.StartLine == y.StartLine && x.EndLine == y.EndLine && x.Page == y.Page
	})
}

func TestSplitLineRanges(t *testing.T) {
	// A document whose every line starts with its number, in blocks of
	// every kind, some longer than the budget.
	var blocks []extract.Block
	line := 1
	kinds := []extract.Kind{extract.KindParagraph, extract.KindCode, extract.KindList, extract.KindTable, extract.KindParagraph}
	for i, n := range []int{3, 80, 5, 40, 120, 1, 7} {
		blocks = append(blocks, extract.Block{
			Text:      numberedLines(line, n, ""),
			Kind:      kinds[i%len(kinds)],
			StartLine: line,
			EndLine:   line + n - 1,
		})
		line += n + 1
	}
	doc := &extract.Document{Blocks: blocks}
	for _, max := range []int{64, 100, 256, 512} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			cs := Split(doc, Options{MaxTokens: max})
			checkChunks(t, "", texts(doc), max, cs)
			checkLines(t, cs)
		})
	}
}

func TestResplit(t *testing.T) {
	para := func(from int) string { return numberedLines(from, 4, "") }
	c := Chunk{
		Text:      para(20) + "\n\n" + para(25) + "\n\n" + para(30),
		Headings:  []string{"Doc", "Part"},
		StartLine: 20,
		EndLine:   33,
		Page:      0,
	}
	tests := []struct {
		name      string
		maxTokens int
		wantN     int
	}{
		{"fits", 512, 1},
		{"cut at blank lines", 110, 3},
		{"smallest budget", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := Resplit(c, "Title", tt.maxTokens)
			checkChunks(t, "Title", []string{c.Text}, tt.maxTokens, cs)
			checkLines(t, cs)
			if tt.wantN > 0 && len(cs) != tt.wantN {
				t.Errorf("got %d chunks, want %d", len(cs), tt.wantN)
			}
			for _, p := range cs {
				if !slices.Equal(p.Headings, c.Headings) {
					t.Errorf("headings %q", p.Headings)
				}
			}
			if cs[0].StartLine != 20 || cs[len(cs)-1].EndLine != 33 {
				t.Errorf("range %d-%d", cs[0].StartLine, cs[len(cs)-1].EndLine)
			}
		})
	}
}

// syntheticMarkdown builds a Markdown-like document text of about n bytes:
// headings, prose, lists and code.
func syntheticMarkdown(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "## Section %d\n\n", i)
		b.WriteString(words(120, uint64(i)))
		b.WriteString("\n\n- item one with `code`\n- item two, 42 apples\n\n```go\n")
		b.WriteString(numberedLines(i, 8, "\t"))
		b.WriteString("\n```\n\n")
	}
	return b.String()
}

// syntheticDocument cuts syntheticMarkdown into blocks the way the Markdown
// extractor does.
func syntheticDocument(n int) *extract.Document {
	doc := &extract.Document{Title: "Synthetic", Format: extract.FormatMarkdown}
	line := 1
	var hs []string
	for _, part := range strings.Split(syntheticMarkdown(n), "\n\n") {
		k := extract.KindParagraph
		switch {
		case strings.HasPrefix(part, "## "):
			k = extract.KindHeading
			hs = []string{part[3:]}
		case strings.HasPrefix(part, "```"):
			k = extract.KindCode
		case strings.HasPrefix(part, "- "):
			k = extract.KindList
		}
		nl := strings.Count(part, "\n")
		doc.Blocks = append(doc.Blocks, extract.Block{Text: part, Kind: k, Headings: hs, StartLine: line, EndLine: line + nl})
		line += nl + 2
	}
	return doc
}

func BenchmarkSplit(b *testing.B) {
	doc := syntheticDocument(5 << 20)
	size := 0
	for _, bl := range doc.Blocks {
		size += len(bl.Text)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		Split(doc, Options{MaxTokens: 512, Overlap: 32})
	}
}

func BenchmarkSplitOneLongLine(b *testing.B) {
	doc := &extract.Document{Blocks: []extract.Block{{Text: strings.Repeat("lorem ipsum dolor sit amet ", 200000)}}}
	b.SetBytes(int64(len(doc.Blocks[0].Text)))
	for b.Loop() {
		Split(doc, Options{MaxTokens: 512, Overlap: 32})
	}
}
