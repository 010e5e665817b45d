package extract

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/extract/extracttest"
)

type scanPage = extracttest.ScanPage

func scanPDF(t testing.TB, pages ...scanPage) []byte {
	t.Helper()
	return extracttest.ScanPDF(pages...)
}

// needOCR skips a test when pdftoppm or tesseract is missing.
func needOCR(t *testing.T) {
	t.Helper()
	if tool := MissingOCRTool(); tool != nil {
		t.Skipf("%s is not on PATH (Debian %s; .ci/run installs it): the OCR test cannot run", tool.Name, tool.Package)
	}
}

func pageText(doc *Document, page int) string {
	var parts []string
	for _, b := range doc.Blocks {
		if b.Page == page {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// TestOCRScannedPage: with OCR, the page of a PDF that is only an image is
// read by tesseract and its text cited by its page number, next to the
// text-layer page read as before; without OCR that page has no text. A
// PDF of scans alone fails as "no text layer" without OCR, and is read
// all by OCR with it (Engine tesseract).
func TestOCRScannedPage(t *testing.T) {
	needOCR(t)
	ctx := context.Background()
	mixed := scanPDF(t,
		scanPage{Text: "The colony breeds on the ice."},
		scanPage{Text: "PENGUINS SWIM WELL\nIN COLD WATER", Scan: true})

	doc, err := Bytes(ctx, "mixed.pdf", mixed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageText(doc, 2); got != "" || doc.OCRPages != 0 {
		t.Errorf("without OCR page 2 reads %q (OCRPages %d), want nothing", got, doc.OCRPages)
	}

	doc, err = Bytes(ctx, "mixed.pdf", mixed, Options{OCR: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageText(doc, 1); got != "The colony breeds on the ice." {
		t.Errorf("page 1 (text layer) = %q", got)
	}
	if got := strings.ToUpper(pageText(doc, 2)); !strings.Contains(got, "PENGUINS") || !strings.Contains(got, "COLD WATER") {
		t.Errorf("page 2 by OCR = %q, want PENGUINS SWIM WELL IN COLD WATER", got)
	}
	if doc.OCRPages != 1 || doc.Engine != PDFBuiltin || ReadNote(doc) != "OCR of 1 page" {
		t.Errorf("OCRPages %d, Engine %q, ReadNote %q", doc.OCRPages, doc.Engine, ReadNote(doc))
	}
	// Only a page showing a page-sized image is worth OCR in a file with
	// a text layer: not a blank page, not a logo.
	path := filepath.Join(t.TempDir(), "three.pdf")
	os.WriteFile(path, scanPDF(t, scanPage{Text: "text"}, scanPage{Text: "SCAN", Scan: true}, scanPage{Text: ""}), 0o644)
	if pages, ok := scanPages(ctx, path); ok && !reflect.DeepEqual(pages, map[int]bool{2: true}) {
		t.Errorf("scanPages = %v, want page 2 alone", pages)
	}

	scan := scanPDF(t, scanPage{Text: "ANNUAL REPORT", Scan: true}, scanPage{Text: "SEALS AND SKUAS", Scan: true})
	if _, err := Bytes(ctx, "scan.pdf", scan, Options{}); !errors.Is(err, ErrNoText) {
		t.Fatalf("a scan without OCR: %v, want no text layer", err)
	}
	doc, err = Bytes(ctx, "scan.pdf", scan, Options{OCR: true})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Engine != PDFOCR || doc.OCRPages != 2 ||
		!strings.Contains(strings.ToUpper(pageText(doc, 1)), "ANNUAL REPORT") || !strings.Contains(strings.ToUpper(pageText(doc, 2)), "SKUAS") {
		t.Errorf("scan by OCR: Engine %q, OCRPages %d, page 1 %q, page 2 %q", doc.Engine, doc.OCRPages, pageText(doc, 1), pageText(doc, 2))
	}
}

// TestOCRSandboxed: OCR runs in the sandboxed child (rag __extract --ocr),
// under its limits, and its pages come back with their numbers.
func TestOCRSandboxed(t *testing.T) {
	needOCR(t)
	if raceEnabled {
		t.Skip("the race detector's shadow memory does not fit under RLIMIT_AS")
	}
	path := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(path, scanPDF(t, scanPage{Text: "x"}, scanPage{Text: "GLACIER MELT", Scan: true}), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := File(context.Background(), path, Options{OCR: true, Sandbox: testSandbox(t, "extract", DefaultLimits)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(pageText(doc, 2)); !strings.Contains(got, "GLACIER") || doc.OCRPages != 1 {
		t.Errorf("sandboxed OCR: page 2 %q, OCRPages %d", got, doc.OCRPages)
	}
}

// TestOCRWithoutTools: when tesseract is missing, --ocr changes nothing: a
// scan stays "no text layer", and MissingOCRTool names what to install.
func TestOCRWithoutTools(t *testing.T) {
	old := lookPath
	t.Cleanup(func() { lookPath = old })
	lookPath = func(name string) (string, error) {
		if name == "tesseract" {
			return "", exec.ErrNotFound
		}
		return old(name)
	}
	tool := MissingOCRTool()
	if tool == nil || tool.Name != "tesseract" || !strings.Contains(tool.Package, "tesseract-ocr") {
		t.Fatalf("MissingOCRTool = %+v, want tesseract from tesseract-ocr", tool)
	}
	_, err := Bytes(context.Background(), "scan.pdf", scanPDF(t, scanPage{Text: "X", Scan: true}), Options{OCR: true})
	if !errors.Is(err, ErrNoText) {
		t.Errorf("err %v, want no text layer", err)
	}
}

// TestConfidentText: words tesseract is unsure of (a photograph read as
// text) are left out; lines and paragraphs keep their breaks.
func TestConfidentText(t *testing.T) {
	tsv := "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"1\t1\t0\t0\t0\t0\t0\t0\t2629\t3508\t-1\t\n" +
		"5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.1\tPENGUINS\n" +
		"5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t91\tSWIM\n" +
		"5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t88\twell\n" +
		"5\t1\t1\t1\t2\t2\t0\t0\t1\t1\t12.5\tssnesen\n" +
		"5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t90\tSeals\n" +
		"5\t1\t3\t1\t1\t1\t0\t0\t1\t1\t30\tyee\n"
	if got, want := confidentText(tsv, 60), "PENGUINS SWIM\nwell\n\nSeals"; got != want {
		t.Errorf("confidentText = %q, want %q", got, want)
	}
}
