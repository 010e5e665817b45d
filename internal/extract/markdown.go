package extract

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"gopkg.in/yaml.v3"
)

// mdParser parses CommonMark with the GitHub extensions that change block
// structure (tables) or are common in docs (strikethrough, task lists).
// goldmark parsers keep no state between calls, so one serves all goroutines.
var mdParser parser.Parser = goldmark.New(goldmark.WithExtensions(
	extension.Table, extension.Strikethrough, extension.TaskList,
)).Parser()

// extractMarkdown cuts Markdown into one block per top-level construct:
// headings, paragraphs, fenced and indented code, lists, tables, block
// quotes and HTML blocks. Block text is the source slice, markup included.
func extractMarkdown(ctx context.Context, doc *Document, data []byte) error {
	src, err := decodeText(data)
	if err != nil {
		return err
	}
	title, src := stripFrontMatter(src)
	doc.Title = title
	if pathological(src) {
		// goldmark slows down more than linearly on such input; read it as
		// plain paragraphs instead of stalling the ingest.
		return textBlocks(ctx, doc, src, KindParagraph)
	}
	source := []byte(src)
	root := mdParser.Parse(text.NewReader(source))
	w := &mdWalker{x: newLineIndex(src), src: source, doc: doc}
	n := 0
	for c := root.FirstChild(); c != nil; c = c.NextSibling() {
		if n++; n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		w.block(c)
	}
	return nil
}

// mdWalker turns top-level goldmark nodes into blocks.
type mdWalker struct {
	x    *lineIndex
	src  []byte
	doc  *Document
	path []mdHeading // headings in force, outermost first
}

type mdHeading struct {
	level int
	text  string
}

func (w *mdWalker) block(n ast.Node) {
	var kind Kind
	switch n := n.(type) {
	case *ast.Heading:
		w.heading(n)
		return
	case *ast.Paragraph, *ast.TextBlock, *ast.Blockquote:
		kind = KindParagraph
	case *ast.FencedCodeBlock:
		if n.Lines().Len() == 0 {
			return // an empty fence says nothing
		}
		kind = KindCode
	case *ast.CodeBlock:
		kind = KindCode
	case *ast.List:
		kind = KindList
	case *east.Table:
		kind = KindTable
	case *ast.HTMLBlock:
		if n.HTMLBlockType == ast.HTMLBlockType2 {
			return // an HTML comment
		}
		kind = KindParagraph
	default:
		return // thematic breaks and anything unknown carry no text
	}
	start, end := w.span(n)
	if start == 0 {
		return
	}
	w.doc.Blocks = append(w.doc.Blocks, Block{
		Text:      w.x.slice(start, end),
		Kind:      kind,
		Headings:  w.headings(),
		StartLine: start,
		EndLine:   end,
	})
}

// heading updates the heading path and records the heading as a block.
func (w *mdWalker) heading(n *ast.Heading) {
	start, end := w.span(n)
	var parts []string
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		parts = append(parts, string(seg.Value(w.src)))
	}
	title := headingText(strings.Join(parts, " "))
	if start == 0 || title == "" {
		return
	}
	for len(w.path) > 0 && w.path[len(w.path)-1].level >= n.Level {
		w.path = w.path[:len(w.path)-1]
	}
	w.path = append(w.path, mdHeading{level: n.Level, text: title})
	if n.Level == 1 && w.doc.Title == "" {
		w.doc.Title = title
	}
	w.doc.Blocks = append(w.doc.Blocks, Block{
		Text:      title,
		Kind:      KindHeading,
		Headings:  w.headings(),
		StartLine: start,
		EndLine:   end,
	})
}

// headings returns a fresh copy of the heading path, nil at top level.
func (w *mdWalker) headings() []string {
	if len(w.path) == 0 {
		return nil
	}
	out := make([]string, len(w.path))
	for i, h := range w.path {
		out[i] = h.text
	}
	return out
}

// headingAttrs matches a trailing {#id .class} attribute list, as Hugo and
// kramdown write it.
var headingAttrs = regexp.MustCompile(`\s*\{\s*[#.][^{}]*\}\s*$`)

func headingText(s string) string {
	return collapseSpace(headingAttrs.ReplaceAllString(s, ""))
}

// span returns the first and last source line of n, fence and setext
// underline lines included, or 0, 0 when n has no position. It walks the
// subtree without recursion, so deeply nested input cannot exhaust the stack.
func (w *mdWalker) span(root ast.Node) (start, end int) {
	add := func(s, e int) {
		if s == 0 {
			return
		}
		if start == 0 || s < start {
			start = s
		}
		end = max(end, e)
	}
	for n := root; n != nil; n = nextBlock(root, n) {
		add(w.ownSpan(n))
	}
	if start == 0 {
		return 0, 0
	}
	if _, ok := root.(*east.Table); ok {
		// A row of empty cells has no position; take the rows that follow.
		for end < w.x.count() && strings.Contains(w.x.line(end+1), "|") {
			end++
		}
	}
	return start, end
}

// nextBlock returns the block node after n in a depth-first walk of root's
// subtree, skipping inline nodes, or nil at the end.
func nextBlock(root, n ast.Node) ast.Node {
	if c := n.FirstChild(); c != nil && c.Type() == ast.TypeBlock {
		return c
	}
	for n != root {
		if s := n.NextSibling(); s != nil && s.Type() == ast.TypeBlock {
			return s
		}
		n = n.Parent()
		if n == nil {
			return nil
		}
	}
	return nil
}

// ownSpan returns the lines of n's own segments, without its children.
func (w *mdWalker) ownSpan(n ast.Node) (start, end int) {
	if n.Type() != ast.TypeBlock {
		return 0, 0
	}
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		s, e := w.segLines(lines.At(i))
		if start == 0 || s < start {
			start = s
		}
		end = max(end, e)
	}
	switch n := n.(type) {
	case *ast.FencedCodeBlock:
		switch {
		case start > 0:
			start-- // the opening fence is the line before the first content line
		case n.Info != nil:
			start, _ = w.segLines(n.Info.Segment)
			end = start
		default:
			return 0, 0
		}
		if end < w.x.count() && isFence(w.x.line(end+1)) {
			end++
		}
	case *ast.Heading:
		if start > 0 && !isATX(w.x.line(start)) && end < w.x.count() {
			end++ // the setext underline
		}
	case *east.TableHeader:
		if start > 0 && end < w.x.count() {
			end++ // the delimiter row
		}
	case *ast.HTMLBlock:
		if n.HasClosure() {
			s, e := w.segLines(n.ClosureLine)
			start = min(start, s)
			if start == 0 {
				start = s
			}
			end = max(end, e)
		}
	}
	return start, end
}

// segLines returns the lines a segment covers.
func (w *mdWalker) segLines(seg text.Segment) (int, int) {
	if seg.Start < 0 || seg.Start > len(w.src) {
		return 0, 0
	}
	last := max(seg.Start, seg.Stop-1)
	if last > len(w.src) {
		last = len(w.src)
	}
	// A segment that stops right after a \n ends on the line before.
	if last > seg.Start && w.src[last] == '\n' {
		last--
	}
	return w.x.lineOf(seg.Start), w.x.lineOf(last)
}

// trimContainer drops the indentation and block-quote markers in front of a
// line.
func trimContainer(line string) string {
	return strings.TrimLeft(line, " \t>")
}

// isFence reports whether line is a closing code fence.
func isFence(line string) bool {
	line = trimContainer(line)
	if len(line) < 3 || line[0] != '`' && line[0] != '~' {
		return false
	}
	i := 0
	for i < len(line) && line[i] == line[0] {
		i++
	}
	return i >= 3 && blank(line[i:])
}

// isATX reports whether line is an ATX heading ("## Title").
func isATX(line string) bool {
	line = trimContainer(line)
	i := 0
	for i < len(line) && line[i] == '#' {
		i++
	}
	return i >= 1 && i <= 6 && (i == len(line) || line[i] == ' ' || line[i] == '\t')
}

// stripFrontMatter blanks out YAML (---) or TOML (+++) front matter, keeping
// its lines so that line numbers stay those of the file, and returns its
// title.
func stripFrontMatter(src string) (title, rest string) {
	first, _, ok := strings.Cut(src, "\n")
	if !ok {
		return "", src
	}
	delim := strings.TrimRight(first, " \t")
	if delim != "---" && delim != "+++" {
		return "", src
	}
	end := -1 // offset just past the closing delimiter line
	body := ""
	for off := len(first) + 1; off < len(src); {
		line, _, _ := strings.Cut(src[off:], "\n")
		next := off + len(line) + 1
		t := strings.TrimRight(line, " \t")
		if t == delim || delim == "---" && t == "..." {
			body = src[len(first)+1 : off]
			end = min(next, len(src))
			break
		}
		off = next
	}
	if end < 0 {
		return "", src // no closing delimiter: not front matter
	}
	if delim == "---" {
		title = yamlTitle(body)
	} else {
		title = tomlTitle(body)
	}
	return title, strings.Repeat("\n", strings.Count(src[:end], "\n")) + src[end:]
}

// yamlTitle returns the title field of YAML front matter, falling back to a
// plain "title:" line when the YAML does not parse.
func yamlTitle(body string) (title string) {
	defer func() {
		if recover() != nil {
			title = lineTitle(body, ":")
		}
	}()
	var fm map[string]any
	if err := yaml.Unmarshal([]byte(body), &fm); err != nil {
		return lineTitle(body, ":")
	}
	if t, ok := fm["title"].(string); ok {
		return t
	}
	return ""
}

// tomlTitle returns the top-level title key of TOML front matter.
func tomlTitle(body string) string {
	return lineTitle(body, "=")
}

// lineTitle finds a top-level `title<sep> value` line and unquotes the value.
func lineTitle(body, sep string) string {
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "[") {
			break // a TOML table: later keys are not top level
		}
		key, value, ok := strings.Cut(line, sep)
		if !ok || strings.TrimSpace(key) != "title" || key != strings.TrimLeft(key, " \t") {
			continue
		}
		value = strings.TrimSpace(value)
		if u, err := strconv.Unquote(value); err == nil {
			return u
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			return value[1 : len(value)-1]
		}
		return value
	}
	return ""
}

// Limits beyond which Markdown is read as plain text. Real documents stay far
// below them; hostile ones make goldmark's time grow with the square of the
// nesting depth or of the number of open brackets.
const (
	maxNesting          = 100  // block quote and list levels on one line
	maxParagraphBracket = 2000 // '[' in one blank-line-separated paragraph
)

// pathological reports whether src nests blocks or brackets deeper than any
// real document does.
func pathological(src string) bool {
	brackets := 0
	for line := range strings.Lines(src) {
		if blank(line) {
			brackets = 0
			continue
		}
		if brackets += strings.Count(line, "["); brackets > maxParagraphBracket {
			return true
		}
		depth, spaces := 0, 0
	prefix:
		for i := 0; i < len(line); i++ {
			switch line[i] {
			case ' ':
				spaces++
			case '\t':
				spaces += 4
			case '>':
				depth++
			case '-', '*', '+':
				// A list marker, not a thematic break or setext underline.
				if i+1 < len(line) && (line[i+1] == ' ' || line[i+1] == '\t') {
					depth++
				} else {
					break prefix
				}
			default:
				break prefix
			}
		}
		if depth+spaces/4 > maxNesting {
			return true
		}
	}
	return false
}
