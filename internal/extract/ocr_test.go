package extract

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

var ocrTestScale, ocrTestPt = 1, 0.6

// scanPage is one page of a generated PDF: text in a text layer, or
// (scan) the same text only as the pixels of an image, as a scanner makes.
type scanPage struct {
	text string
	scan bool
}

// textImage draws lines of text in black on white with basicfont's 7x13
// glyphs, each pixel scale x scale.
func textImage(lines []string, scale int) *image.Gray {
	const lineH = 18
	w := 0
	for _, l := range lines {
		w = max(w, 7*len(l))
	}
	// A page's worth of pixels (letter at 100 dpi), as a scanner makes.
	small := image.NewGray(image.Rect(0, 0, max(w+40, 850), max(lineH*len(lines)+40, 1100)))
	draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: small, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	for i, l := range lines {
		d.Dot = fixed.P(20, 20+13+i*lineH)
		d.DrawString(l)
	}
	b := small.Bounds()
	big := image.NewGray(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
	for y := range big.Bounds().Dy() {
		for x := range big.Bounds().Dx() {
			big.Pix[y*big.Stride+x] = small.Pix[(y/scale)*small.Stride+x/scale]
		}
	}
	return big
}

// scanPDF writes a PDF of US-letter pages: a text page shows its text in
// Helvetica; a scan page is one greyscale image (Flate-compressed pixels)
// of its text filling the top of the page, with no text layer.
func scanPDF(t testing.TB, pages ...scanPage) []byte {
	t.Helper()
	var b bytes.Buffer
	var offsets []int
	obj := func(dict string, stream []byte) int {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s", len(offsets), dict)
		if stream != nil {
			fmt.Fprintf(&b, "\nstream\n%s\nendstream", stream)
		}
		b.WriteString("\nendobj\n")
		return len(offsets)
	}
	b.WriteString("%PDF-1.4\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	offsets = append(offsets, 0) // 2: the page tree, written last
	font := obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", nil)
	var kids []string
	for _, p := range pages {
		var content string
		res := fmt.Sprintf("/Font << /F1 %d 0 R >>", font)
		if p.scan {
			img := textImage(strings.Split(p.text, "\n"), ocrTestScale)
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(img.Pix)
			zw.Close()
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			im := obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>", w, h, z.Len()), z.Bytes())
			res = fmt.Sprintf("/XObject << /Im1 %d 0 R >>", im)
			pw := float64(w) * ocrTestPt
			ph := float64(h) * ocrTestPt
			content = fmt.Sprintf("q %.2f 0 0 %.2f 0 %.2f cm /Im1 Do Q", pw, ph, 792-ph)
		} else {
			content = fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", p.text)
		}
		c := obj(fmt.Sprintf("<< /Length %d >>", len(content)), []byte(content))
		pg := obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << %s >> /Contents %d 0 R >>", res, c), nil)
		kids = append(kids, fmt.Sprintf("%d 0 R", pg))
	}
	offsets[1] = b.Len()
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", strings.Join(kids, " "), len(kids))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
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
		scanPage{text: "The colony breeds on the ice."},
		scanPage{text: "PENGUINS SWIM WELL\nIN COLD WATER", scan: true})

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
	os.WriteFile(path, scanPDF(t, scanPage{text: "text"}, scanPage{text: "SCAN", scan: true}, scanPage{text: ""}), 0o644)
	if pages, ok := scanPages(ctx, path); ok && !reflect.DeepEqual(pages, map[int]bool{2: true}) {
		t.Errorf("scanPages = %v, want page 2 alone", pages)
	}

	scan := scanPDF(t, scanPage{text: "ANNUAL REPORT", scan: true}, scanPage{text: "SEALS AND SKUAS", scan: true})
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
	if err := os.WriteFile(path, scanPDF(t, scanPage{text: "x"}, scanPage{text: "GLACIER MELT", scan: true}), 0o644); err != nil {
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
	_, err := Bytes(context.Background(), "scan.pdf", scanPDF(t, scanPage{text: "X", scan: true}), Options{OCR: true})
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
