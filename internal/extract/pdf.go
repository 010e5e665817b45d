package extract

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ragcli/rag/internal/pdftext"
)

// pdfExtract is the PDF text extractor; tests replace it.
var pdfExtract = pdftext.Extract

// extractPDFFile returns one block per paragraph of each page, paragraphs
// being separated by blank lines in the page text.
func extractPDFFile(ctx context.Context, path string) (*Document, error) {
	res, err := pdfExtract(ctx, path)
	if err != nil {
		return nil, pdfError(err)
	}
	if res == nil {
		return nil, newError(ErrNoText, "no text layer", nil)
	}
	doc := &Document{Path: path, Format: FormatPDF, Title: res.Title}
	for i, page := range res.Pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, para := range paragraphs(CleanText(page)) {
			doc.Blocks = append(doc.Blocks, Block{Text: para, Kind: KindParagraph, Page: i + 1})
		}
	}
	if len(doc.Blocks) == 0 {
		return nil, newError(ErrNoText, "no text layer", nil)
	}
	return finish(doc)
}

// extractPDFBytes hands data to the PDF extractor through a temporary file,
// since pdftext reads from a path.
func extractPDFBytes(ctx context.Context, path string, data []byte) (*Document, error) {
	f, err := os.CreateTemp("", "rag-extract-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write temp file: %w", err)
	}
	doc, err := extractPDFFile(ctx, f.Name())
	if doc != nil {
		doc.Path = path
	}
	return doc, err
}

// pdfError maps pdftext errors onto this package's, keeping both matchable
// with errors.Is.
func pdfError(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, pdftext.ErrEncrypted):
		return newError(ErrEncrypted, "encrypted pdf", err)
	case errors.Is(err, pdftext.ErrNoText):
		return newError(ErrNoText, "no text layer", err)
	case errors.Is(err, pdftext.ErrMalformed):
		return newError(ErrMalformed, "malformed pdf", err)
	}
	return fmt.Errorf("extract pdf: %w", err)
}

// paragraphs splits s at blank lines, dropping the blank lines.
func paragraphs(s string) []string {
	var out []string
	x := newLineIndex(s)
	start := 0
	for n := 1; n <= x.count()+1; n++ {
		if n > x.count() || blank(x.line(n)) {
			if start > 0 {
				out = append(out, x.slice(start, n-1))
				start = 0
			}
			continue
		}
		if start == 0 {
			start = n
		}
	}
	return out
}
