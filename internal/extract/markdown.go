package extract

import (
	"context"
	"path/filepath"
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
	src, enc, err := decodeText(data)
	if err != nil {
		return err
	}
	doc.Encoding = enc
	fm, src := stripFrontMatter(src)
	doc.Title = fm.title
	if err := markdownBlocks(ctx, doc, src); err != nil {
		return err
	}
	if !hasText(doc.Blocks) && (fm.title != "" || fm.description != "") {
		// A page of front matter only, such as a Hugo section's _index.md:
		// what it says is its title and description.
		text := strings.TrimSpace(fm.title + "\n\n" + fm.description)
		doc.Blocks = append(doc.Blocks, Block{Text: text, Kind: KindParagraph, StartLine: 1, EndLine: max(fm.lines, 1)})
	}
	if doc.Title == "" {
		doc.Title = fileTitle(doc.Path)
	}
	return nil
}

// markdownBlocks adds the blocks of src, front matter already blanked out,
// to doc, and sets doc.Title from its first H1, else its first heading, when
// it has none.
func markdownBlocks(ctx context.Context, doc *Document, src string) error {
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
	if doc.Title == "" {
		doc.Title = w.first
	}
	return nil
}

// hasText reports whether any block holds more than white space.
func hasText(blocks []Block) bool {
	for _, b := range blocks {
		if !blank(b.Text) {
			return true
		}
	}
	return false
}

// fileTitle is the title of a Markdown file that names none: its file name
// without the extension, or its folder's name for an index page
// (index.md, _index.md, README.md), whose own name says nothing.
func fileTitle(path string) string {
	if path == "" {
		return ""
	}
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	switch strings.ToLower(name) {
	case "index", "_index", "readme":
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != string(filepath.Separator) {
			return dir
		}
	}
	return name
}

// mdWalker turns top-level goldmark nodes into blocks.
type mdWalker struct {
	x     *lineIndex
	src   []byte
	doc   *Document
	path  []mdHeading // headings in force, outermost first
	first string      // the first heading's text, whatever its level
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
	if w.first == "" {
		w.first = title
	}
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

// frontMatter is what rag reads from a Markdown file's front matter.
type frontMatter struct {
	title, description string
	lines              int // lines the front matter takes, delimiters included
}

// stripFrontMatter blanks out YAML (---) or TOML (+++) front matter, keeping
// its lines so that line numbers stay those of the file, and returns its
// title and description.
func stripFrontMatter(src string) (fm frontMatter, rest string) {
	first, _, ok := strings.Cut(src, "\n")
	if !ok {
		return fm, src
	}
	delim := strings.TrimRight(first, " \t\r")
	if delim != "---" && delim != "+++" {
		return fm, src
	}
	end := -1 // offset just past the closing delimiter line
	body := ""
	for off := len(first) + 1; off < len(src); {
		line, _, _ := strings.Cut(src[off:], "\n")
		next := off + len(line) + 1
		t := strings.TrimRight(line, " \t\r")
		if t == delim || delim == "---" && t == "..." {
			body = src[len(first)+1 : off]
			end = min(next, len(src))
			break
		}
		off = next
	}
	if end < 0 {
		return fm, src // no closing delimiter: not front matter
	}
	if delim == "---" {
		fm.title, fm.description = yamlFields(body)
	} else {
		fm.title, fm.description = lineField(body, "title", "="), lineField(body, "description", "=")
	}
	fm.title, fm.description = collapseSpace(fm.title), collapseSpace(fm.description)
	fm.lines = strings.Count(src[:end], "\n")
	if end == len(src) && !strings.HasSuffix(src, "\n") {
		fm.lines++
	}
	return fm, strings.Repeat("\n", strings.Count(src[:end], "\n")) + src[end:]
}

// yamlFields returns the title and description fields of YAML front matter,
// falling back to plain "key:" lines when the YAML does not parse.
func yamlFields(body string) (title, description string) {
	fallback := func() (string, string) {
		return lineField(body, "title", ":"), lineField(body, "description", ":")
	}
	defer func() {
		if recover() != nil {
			title, description = fallback()
		}
	}()
	var fm map[string]any
	if err := yaml.Unmarshal([]byte(body), &fm); err != nil {
		return fallback()
	}
	title, _ = fm["title"].(string)
	description, _ = fm["description"].(string)
	return title, description
}

// lineField finds a top-level `key<sep> value` line and unquotes the value.
func lineField(body, key, sep string) string {
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "[") {
			break // a TOML table: later keys are not top level
		}
		k, value, ok := strings.Cut(line, sep)
		if !ok || strings.TrimSpace(k) != key || k != strings.TrimLeft(k, " \t") {
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
