package extract

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestSandboxTakesEveryStructuredFormat: every parser of a structured
// format (zip, XML, JSON, MIME, CSV, PDF) runs through Options.Sandbox,
// under the child's limits, XLSX too, with OCR passed on; plain text,
// Markdown, HTML and code stay in process.
func TestSandboxTakesEveryStructuredFormat(t *testing.T) {
	var seen []string
	hook := func(ctx context.Context, path string, opts Options) (*Document, error) {
		if !opts.OCR {
			t.Errorf("%s: the child did not get OCR", path)
		}
		seen = append(seen, path[strings.LastIndexByte(path, '.'):])
		return &Document{Path: path, Blocks: []Block{{Text: "x"}}}, nil
	}
	opts := Options{Sandbox: hook, OCR: true}
	sandboxedExts := []string{".pdf", ".docx", ".csv", ".tsv", ".ipynb", ".eml", ".pptx", ".odt", ".epub", ".xlsx"}
	for _, ext := range append(sandboxedExts, ".md", ".txt", ".html", ".go") {
		if _, err := Bytes(context.Background(), "f"+ext, []byte("a,b\n1,2\n"), opts); err != nil {
			t.Errorf("Bytes(%s): %v", ext, err)
		}
	}
	if !reflect.DeepEqual(seen, sandboxedExts) {
		t.Errorf("sandboxed %q, want %q", seen, sandboxedExts)
	}
}

// TestResultRoundTripKeepsProvenance: what the child reports of anchors,
// caps and OCR reaches the parent.
func TestResultRoundTripKeepsProvenance(t *testing.T) {
	doc := &Document{Path: "s.xlsx", Format: FormatXLSX, Capped: "capped at 100000 rows", OCRPages: 2,
		Blocks: []Block{{Text: "a: 1", Anchor: "sheet=Q1%20sales&row=2", Headings: []string{"Q1 sales", "row 2"}}}}
	var buf strings.Builder
	if err := EncodeResult(&buf, doc, nil); err != nil {
		t.Fatal(err)
	}
	got, err := decodeResult([]byte(buf.String()))
	if err != nil || !reflect.DeepEqual(got, doc) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, doc)
	}
}
