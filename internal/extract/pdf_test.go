package extract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ragcli/rag/internal/pdftext"
)

// fakePDF replaces the PDF extractor for one test.
func fakePDF(t *testing.T, res *pdftext.Result, err error) {
	t.Helper()
	old := pdfExtract
	pdfExtract = func(ctx context.Context, path string) (*pdftext.Result, error) {
		if _, statErr := os.Stat(path); statErr != nil {
			return nil, fmt.Errorf("fake pdftext: %w", statErr)
		}
		return res, err
	}
	t.Cleanup(func() { pdfExtract = old })
}

func TestPDF(t *testing.T) {
	fakePDF(t, &pdftext.Result{
		Title: "Paper",
		Pages: []string{
			"Abstract text\nspans lines.\n\n  \nIntro \x1b[1mbold\x1b[0m.",
			"",
			"\n\nLast page.\n",
		},
	}, nil)
	path := filepath.Join(t.TempDir(), "paper.pdf")
	if err := os.WriteFile(path, []byte("%PDF-1.4 fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	type block struct {
		Text string
		Page int
	}
	want := []block{{"Abstract text\nspans lines.", 1}, {"Intro bold.", 1}, {"Last page.", 3}}
	for _, via := range []string{"File", "Bytes"} {
		t.Run(via, func(t *testing.T) {
			var doc *Document
			var err error
			if via == "File" {
				doc, err = File(context.Background(), path, Options{})
			} else {
				doc, err = Bytes(context.Background(), "in/memory.pdf", []byte("%PDF-1.4 fake"), Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []block
			for _, b := range doc.Blocks {
				got = append(got, block{b.Text, b.Page})
				if b.StartLine != 0 || b.EndLine != 0 || b.Kind != KindParagraph {
					t.Errorf("block %q: lines %d-%d kind %d", b.Text, b.StartLine, b.EndLine, b.Kind)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("blocks = %+v, want %+v", got, want)
			}
			if doc.Title != "Paper" || doc.Format != FormatPDF {
				t.Errorf("Title, Format = %q, %q", doc.Title, doc.Format)
			}
			if via == "Bytes" && doc.Path != "in/memory.pdf" {
				t.Errorf("Path = %q, want the caller's path", doc.Path)
			}
		})
	}
}

func TestPDFErrors(t *testing.T) {
	tests := []struct {
		name   string
		res    *pdftext.Result
		err    error
		want   error
		reason string
	}{
		{"encrypted", nil, fmt.Errorf("open: %w", pdftext.ErrEncrypted), ErrEncrypted, "encrypted pdf"},
		{"scanned", nil, pdftext.ErrNoText, ErrNoText, "no text layer"},
		{"malformed", nil, pdftext.ErrMalformed, ErrMalformed, "malformed pdf"},
		{"blank pages", &pdftext.Result{Pages: []string{" ", "\n\n"}}, nil, ErrNoText, "no text layer"},
		{"canceled", nil, context.Canceled, context.Canceled, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakePDF(t, tt.res, tt.err)
			_, err := Bytes(context.Background(), "x.pdf", []byte("%PDF"), Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error = %v does not wrap the pdftext error", err)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason() = %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestPDFAuto guards the default engine: the built-in reader first, then
// pdftotext for a file it cannot read, the document saying which engine
// read it; without pdftotext the reason suggests installing poppler-utils.
func TestPDFAuto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paper.pdf")
	if err := os.WriteFile(path, minimalPDF("Read by poppler"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Run("built-in reads it", func(t *testing.T) {
		doc, err := File(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Engine != PDFBuiltin || ReadNote(doc) != "" {
			t.Errorf("Engine %q, note %q; want builtin, no note", doc.Engine, ReadNote(doc))
		}
	})
	malformed := &pdftext.MalformedError{Found: "broken cross-reference table at byte 9"}
	t.Run("pdftotext reads what the built-in reader cannot", func(t *testing.T) {
		if _, err := pdfToTextPath(); err != nil {
			t.Skip("pdftotext is not installed")
		}
		fakePDF(t, nil, malformed)
		doc, err := File(ctx, path, Options{PDF: PDFAuto})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Engine != PDFToText || ReadNote(doc) != "read by pdftotext" || doc.Blocks[0].Text != "Read by poppler" {
			t.Errorf("Engine %q, note %q, blocks %+v", doc.Engine, ReadNote(doc), doc.Blocks)
		}
		if _, err := File(ctx, path, Options{PDF: PDFBuiltin}); !errors.Is(err, ErrMalformed) {
			t.Errorf("--pdf builtin: %v, want it to stay the built-in reader alone", err)
		}
	})
	t.Run("without pdftotext the reason suggests poppler-utils", func(t *testing.T) {
		fakePDF(t, nil, malformed)
		old := pdfToTextPath
		pdfToTextPath = func() (string, error) { return "", errors.New("not found") }
		t.Cleanup(func() { pdfToTextPath = old })
		_, err := File(ctx, path, Options{})
		want := "malformed pdf: broken cross-reference table at byte 9 (install poppler-utils: rag then tries pdftotext on such files)"
		if !errors.Is(err, ErrMalformed) || Reason(err) != want {
			t.Errorf("err %v, reason %q; want %q", err, Reason(err), want)
		}
	})
}
