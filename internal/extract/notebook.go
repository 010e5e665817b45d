package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/yuin/goldmark/text"
)

// maxNotebookCells bounds the cells read from one notebook.
const maxNotebookCells = 100_000

// notebook is the part of a Jupyter notebook (nbformat 4, and the cells of
// nbformat 3 worksheets) that rag reads. Outputs are left out: they are
// results, often large images, not what the author wrote.
type notebook struct {
	Cells      []notebookCell `json:"cells"`
	Worksheets []struct {
		Cells []notebookCell `json:"cells"`
	} `json:"worksheets"`
	Metadata struct {
		Title string `json:"title"`
	} `json:"metadata"`
}

type notebookCell struct {
	Type   string          `json:"cell_type"`
	Source json.RawMessage `json:"source"`
	Input  json.RawMessage `json:"input"` // nbformat 3 code cells
}

// text returns a cell's source, which nbformat stores as a string or as a
// list of lines.
func (c notebookCell) text() string {
	raw := c.Source
	if len(raw) == 0 {
		raw = c.Input
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	if json.Unmarshal(raw, &lines) == nil {
		return strings.Join(lines, "")
	}
	return ""
}

// extractNotebook reads a Jupyter notebook's Markdown and code cells in
// order. Markdown headings set the heading path for the cells that follow;
// every block's path ends with its cell, "cell N" (1-based), which is what
// a citation points to. Raw cells and outputs are left out.
func extractNotebook(ctx context.Context, doc *Document, data []byte) error {
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return newError(ErrMalformed, "malformed notebook", err)
	}
	cells := nb.Cells
	for _, ws := range nb.Worksheets {
		cells = append(cells, ws.Cells...)
	}
	if len(cells) > maxNotebookCells {
		return newError(ErrTooLarge, "file too large",
			fmt.Errorf("%d cells exceeds the limit of %d", len(cells), maxNotebookCells))
	}
	doc.Title = nb.Metadata.Title
	var path []mdHeading // the Markdown headings in force, across cells
	for i, c := range cells {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cell := fmt.Sprintf("cell %d", i+1)
		src := CleanText(c.text())
		if blank(src) {
			continue
		}
		switch c.Type {
		case "markdown":
			md := &Document{}
			source := []byte(src)
			w := &mdWalker{x: newLineIndex(src), src: source, doc: md, path: path}
			if pathological(src) {
				_ = textBlocks(ctx, md, src, KindParagraph)
			} else {
				root := mdParser.Parse(text.NewReader(source))
				for n := root.FirstChild(); n != nil; n = n.NextSibling() {
					w.block(n)
				}
			}
			path = w.path
			if doc.Title == "" {
				doc.Title = w.first
			}
			for _, b := range md.Blocks {
				b.Headings = append(b.Headings, cell)
				b.StartLine, b.EndLine = 0, 0 // lines of the cell, not of the file
				b.Anchor = fmt.Sprintf("cell=%d", i+1)
				doc.Blocks = append(doc.Blocks, b)
			}
		case "code":
			hs := make([]string, 0, len(path)+1)
			for _, h := range path {
				hs = append(hs, h.text)
			}
			doc.Blocks = append(doc.Blocks, Block{Text: src, Kind: KindCode, Headings: append(hs, cell),
				Anchor: fmt.Sprintf("cell=%d", i+1)})
		}
	}
	if doc.Title == "" {
		doc.Title = fileTitle(doc.Path)
	}
	return nil
}
