package extract

import (
	"bytes"
	"context"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// extractHTML keeps the visible text of an HTML page: one block per
// paragraph-like element, with h1..h6 setting the heading path. Line numbers
// are not tracked (x/net/html does not report positions), so they stay 0.
func extractHTML(ctx context.Context, doc *Document, data []byte) error {
	if bytes.IndexByte(data, 0) >= 0 && !bytes.HasPrefix(data, []byte{0xff, 0xfe}) && !bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return newError(ErrBinary, "binary file", nil)
	}
	// Honour a BOM, <meta charset> and a Windows-1252 fallback for old pages.
	enc, _, _ := charset.DetermineEncoding(data, "text/html")
	if decoded, err := enc.NewDecoder().Bytes(data); err == nil {
		data = decoded
	}
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return newError(ErrMalformed, "malformed html", err)
	}
	w := &htmlWalker{doc: doc}
	return w.walk(ctx, root)
}

// skipTags are elements whose content is not part of the page's text.
var skipTags = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Nav: true, atom.Header: true, atom.Footer: true,
	atom.Aside: true, atom.Form: true, atom.Button: true, atom.Iframe: true,
	atom.Object: true, atom.Embed: true, atom.Canvas: true, atom.Select: true,
	atom.Textarea: true, atom.Dialog: true, atom.Meta: true, atom.Link: true,
}

// blockTags end the text before them and start a new block; their kind is
// the kind of the block they hold.
var blockTags = map[atom.Atom]Kind{
	atom.P: KindParagraph, atom.Div: KindParagraph, atom.Blockquote: KindParagraph,
	atom.Section: KindParagraph, atom.Article: KindParagraph, atom.Main: KindParagraph,
	atom.Body: KindParagraph, atom.Figure: KindParagraph, atom.Figcaption: KindParagraph,
	atom.Dd: KindParagraph, atom.Dt: KindParagraph, atom.Dl: KindParagraph,
	atom.Details: KindParagraph, atom.Summary: KindParagraph, atom.Address: KindParagraph,
	atom.Hr: KindParagraph,
	atom.Li: KindList, atom.Ul: KindList, atom.Ol: KindList,
	atom.Table: KindTable, atom.Tr: KindTable, atom.Td: KindTable, atom.Th: KindTable,
	atom.Caption: KindTable,
	atom.Pre:     KindCode,
}

var headingLevels = map[atom.Atom]int{
	atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6,
}

type htmlWalker struct {
	doc  *Document
	path []mdHeading
	buf  strings.Builder // text of the block being gathered
	kind Kind            // kind of the block being gathered
	pre  int             // depth of <pre> elements around the text
}

// walk visits the tree depth first without recursion, so that deeply nested
// markup cannot exhaust the stack.
func (w *htmlWalker) walk(ctx context.Context, root *html.Node) error {
	visited := 0
	n := root
	for n != nil {
		if visited++; visited%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if w.enter(n) && n.FirstChild != nil {
			n = n.FirstChild
			continue
		}
		// Leave n and every ancestor that has no next sibling.
		for n != nil {
			w.leave(n)
			if n == root {
				n = nil
				break
			}
			if n.NextSibling != nil {
				n = n.NextSibling
				break
			}
			n = n.Parent
		}
	}
	w.flush()
	return nil
}

// enter handles the start of n and reports whether to visit its children.
func (w *htmlWalker) enter(n *html.Node) bool {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return false
	case html.DocumentNode:
		return true
	case html.ElementNode:
	default:
		return false // comments, doctypes
	}
	if n.DataAtom == atom.Title && w.doc.Title == "" {
		w.doc.Title = collapseSpace(nodeText(n))
		return false
	}
	if skipTags[n.DataAtom] || hidden(n) {
		return false
	}
	if _, ok := headingLevels[n.DataAtom]; ok {
		w.flush()
		return true
	}
	if n.DataAtom == atom.Br {
		w.buf.WriteByte('\n')
		return false
	}
	if kind, ok := blockTags[n.DataAtom]; ok {
		w.flush()
		w.kind = kind
		if n.DataAtom == atom.Pre {
			w.pre++
		}
	}
	return true
}

// leave handles the end of n, which enter may have skipped.
func (w *htmlWalker) leave(n *html.Node) {
	if n.Type != html.ElementNode {
		return
	}
	if level, ok := headingLevels[n.DataAtom]; ok && !hidden(n) {
		w.endHeading(level)
		return
	}
	if _, ok := blockTags[n.DataAtom]; ok && !skipTags[n.DataAtom] && !hidden(n) {
		w.flush()
		if n.DataAtom == atom.Pre {
			w.pre--
		}
		w.kind = KindParagraph
	}
}

func (w *htmlWalker) text(s string) {
	if w.pre > 0 {
		w.buf.WriteString(s)
		return
	}
	// Collapse white space, keeping one space where the source had any.
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if s != "" {
			w.buf.WriteByte(' ')
		}
		return
	}
	if s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r' || s[0] == '\f' {
		w.buf.WriteByte(' ')
	}
	w.buf.WriteString(strings.Join(fields, " "))
	if last := s[len(s)-1]; last == ' ' || last == '\n' || last == '\t' || last == '\r' || last == '\f' {
		w.buf.WriteByte(' ')
	}
}

// endHeading turns the gathered text into a heading and updates the path.
func (w *htmlWalker) endHeading(level int) {
	title := collapseSpace(CleanText(w.buf.String()))
	w.buf.Reset()
	if title == "" {
		return
	}
	for len(w.path) > 0 && w.path[len(w.path)-1].level >= level {
		w.path = w.path[:len(w.path)-1]
	}
	w.path = append(w.path, mdHeading{level: level, text: title})
	if level == 1 && w.doc.Title == "" {
		w.doc.Title = title
	}
	w.doc.Blocks = append(w.doc.Blocks, Block{Text: title, Kind: KindHeading, Headings: w.headings()})
}

// flush turns the gathered text into a block.
func (w *htmlWalker) flush() {
	s := w.buf.String()
	w.buf.Reset()
	if w.pre > 0 {
		s = strings.TrimPrefix(s, "\n") // as browsers do after <pre>
		s = strings.TrimRight(s, " \t\n\r")
	} else {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimSpace(l)
		}
		s = strings.TrimSpace(strings.Join(lines, "\n"))
	}
	if blank(s) {
		return
	}
	w.doc.Blocks = append(w.doc.Blocks, Block{Text: s, Kind: w.kind, Headings: w.headings()})
}

func (w *htmlWalker) headings() []string {
	if len(w.path) == 0 {
		return nil
	}
	out := make([]string, len(w.path))
	for i, h := range w.path {
		out[i] = h.text
	}
	return out
}

// hidden reports whether an element is hidden from readers.
func hidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "hidden":
			return true
		case "aria-hidden":
			if strings.EqualFold(strings.TrimSpace(a.Val), "true") {
				return true
			}
		case "style":
			v := strings.ReplaceAll(strings.ToLower(a.Val), " ", "")
			if strings.Contains(v, "display:none") || strings.Contains(v, "visibility:hidden") {
				return true
			}
		}
	}
	return false
}

// nodeText returns the text directly inside n, such as the content of
// <title>.
func nodeText(n *html.Node) string {
	var b strings.Builder
	for d := range n.ChildNodes() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
