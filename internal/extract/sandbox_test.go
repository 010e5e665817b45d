package extract

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/sandbox"
)

// childEnv makes the test binary act as "rag __extract": the
// TestHelperProcess pattern. Its value picks a behaviour; "extract" is the
// real child code path.
const childEnv = "RAG_EXTRACT_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(testChild(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

var sink [][]byte

// testChild is what rag's hidden __extract command does, plus the failures
// a hostile PDF can cause in the library.
func testChild(mode string, args []string) int {
	out, err := sandbox.ChildSetup()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer out.Close()
	// args: __extract --pdf ENGINE --max-bytes N [--ocr --ocr-budget D] -- PATH
	ocr := len(args) == 10 && args[5] == "--ocr" && args[6] == "--ocr-budget"
	var budget time.Duration
	if ocr {
		budget, _ = time.ParseDuration(args[7])
		args = append(args[:5], args[8:]...)
	}
	if len(args) != 7 || args[0] != ChildCommand || args[1] != "--pdf" || args[3] != "--max-bytes" || args[5] != "--" {
		fmt.Fprintf(os.Stderr, "bad arguments %q\n", args)
		return 2
	}
	maxBytes, _ := strconv.ParseInt(args[4], 10, 64)
	opts := Options{PDF: args[2], MaxBytes: maxBytes, OCR: ocr, OCRBudget: budget}
	path := args[6]
	switch mode {
	case "stdout":
		fmt.Println("DEBUG: *pdf.dict(map[]). Skip dict") // what ledongthuc/pdf prints
	case "panic":
		panic("boom")
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "oom":
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	}
	doc, err := File(context.Background(), path, opts)
	if err := EncodeResult(out, doc, err); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testSandbox returns a SandboxFunc running this test binary as the child.
func testSandbox(t *testing.T, mode string, lim sandbox.Limits) func(context.Context, string, Options) (*Document, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, mode)
	return SandboxFunc(exe, lim)
}

// minimalPDF returns a valid PDF with one page per string, each page showing
// its string in Helvetica.
func minimalPDF(pages ...string) []byte {
	var b strings.Builder
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n")
	n := len(pages)
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i, text := range pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		stream := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return []byte(b.String())
}

func writePDF(t *testing.T, pages ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, minimalPDF(pages...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSandboxHookTakesPDFAndDOCX(t *testing.T) {
	var seen []string
	hook := func(ctx context.Context, path string, opts Options) (*Document, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if opts.Sandbox != nil || opts.PDF != PDFToText || opts.MaxBytes != 1000 {
			t.Errorf("hook got options %+v, want the caller's without Sandbox", opts)
		}
		seen = append(seen, filepath.Ext(path)+" "+string(data))
		return &Document{Path: path, Format: FormatPDF, Blocks: []Block{{Text: "from the sandbox", Page: 1}}}, nil
	}
	opts := Options{Sandbox: hook, PDF: PDFToText, MaxBytes: 1000}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "a.pdf")
	os.WriteFile(pdfPath, []byte("%PDF-on disk"), 0o644)
	ctx := context.Background()

	doc, err := File(ctx, pdfPath, opts)
	if err != nil || doc.Blocks[0].Text != "from the sandbox" || doc.Path != pdfPath {
		t.Errorf("File(.pdf) = %+v, %v; want the hook's document", doc, err)
	}
	doc, err = Bytes(ctx, "in/memory.pdf", []byte("%PDF-in memory"), opts)
	if err != nil || doc.Path != "in/memory.pdf" {
		t.Errorf("Bytes(.pdf) = %+v, %v; want the hook's document under the caller's path", doc, err)
	}
	if _, err := Bytes(ctx, "w.docx", []byte("PK docx"), opts); err != nil {
		t.Errorf("Bytes(.docx): %v", err)
	}
	if _, err := Bytes(ctx, "notes.md", []byte("# Notes\n\ntext\n"), opts); err != nil {
		t.Errorf("Bytes(.md): %v", err)
	}
	want := []string{".pdf %PDF-on disk", ".pdf %PDF-in memory", ".docx PK docx"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("hook saw %q, want %q (Markdown stays in process; Bytes hands over its data)", seen, want)
	}
	// The limits apply before the child is started.
	if _, err := Bytes(ctx, "big.pdf", make([]byte, 1001), opts); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Bytes over MaxBytes: err = %v, want ErrTooLarge", err)
	}
}

func TestResultRoundTripKeepsBlocks(t *testing.T) {
	doc := &Document{Path: "p.pdf", Format: FormatPDF, Title: "T", Blocks: []Block{
		{Text: "a", Kind: KindParagraph, Page: 1},
		{Text: "b", Kind: KindHeading, Headings: []string{"H1", "H2"}, StartLine: 3, EndLine: 4, Page: 2},
	}}
	var buf strings.Builder
	if err := EncodeResult(&buf, doc, nil); err != nil {
		t.Fatal(err)
	}
	got, err := decodeResult([]byte(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, doc) {
		t.Errorf("round trip = %+v, want %+v", got, doc)
	}
}

func TestResultRoundTripKeepsErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{newError(ErrEncrypted, "encrypted pdf", errors.New("open pdf: encrypted pdf: x")), ErrEncrypted},
		{newError(ErrNoText, "no text layer", nil), ErrNoText},
		{newError(ErrMalformed, "malformed pdf", errors.New("bad xref")), ErrMalformed},
		{tooLarge(10, 5), ErrTooLarge},
		{newError(ErrUnsupported, "unsupported file type", nil), ErrUnsupported},
		{fmt.Errorf("open file: %w", fs.ErrNotExist), fs.ErrNotExist},
		{fmt.Errorf("open file: %w", fs.ErrPermission), fs.ErrPermission},
		{context.Canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			var buf strings.Builder
			if err := EncodeResult(&buf, nil, tt.err); err != nil {
				t.Fatal(err)
			}
			_, err := decodeResult([]byte(buf.String()))
			if !errors.Is(err, tt.want) {
				t.Errorf("decoded %v does not match %v", err, tt.want)
			}
			if Reason(err) != Reason(tt.err) || err.Error() != tt.err.Error() {
				t.Errorf("decoded %q (reason %q), want %q (reason %q)", err, Reason(err), tt.err, Reason(tt.err))
			}
		})
	}
	if _, err := decodeResult([]byte("DEBUG: not json")); !errors.Is(err, ErrCrashed) {
		t.Errorf("garbage result: err = %v, want ErrCrashed", err)
	}
}

func TestSandboxFuncExtractsInAChild(t *testing.T) {
	path := writePDF(t, "Hello sandbox", "Second page")
	for _, mode := range []string{"extract", "stdout"} {
		t.Run(mode, func(t *testing.T) {
			opts := Options{Sandbox: testSandbox(t, mode, DefaultLimits)}
			doc, err := File(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range doc.Blocks {
				got = append(got, fmt.Sprintf("%d:%s", b.Page, b.Text))
			}
			want := []string{"1:Hello sandbox", "2:Second page"}
			if !reflect.DeepEqual(got, want) || doc.Path != path || doc.Format != FormatPDF {
				t.Errorf("doc = %q at %s (%s), want %q at %s", got, doc.Path, doc.Format, want, path)
			}
		})
	}
}

func TestSandboxFuncReportsWhyAFileFailed(t *testing.T) {
	tests := []struct {
		mode   string
		lim    sandbox.Limits
		data   []byte
		want   error
		reason string
	}{
		{"hang", sandbox.Limits{Timeout: time.Second}, nil, ErrCrashed, "timed out after 1s"},
		{"panic", DefaultLimits, nil, ErrCrashed, "crashed: panic: boom"},
		{"oom", sandbox.Limits{Timeout: time.Minute, MemoryBytes: 256 << 20}, nil, ErrCrashed, "out of memory"},
		{"extract", DefaultLimits, []byte("%PDF-1.4\ngarbage"), ErrMalformed, "malformed pdf: no startxref at the end (truncated at byte 16?); no objects found"},
		{"extract", DefaultLimits, minimalPDF(" "), ErrNoText, "no text layer"},
		{"extract", sandbox.Limits{OutputBytes: 10}, nil, ErrTooLarge, "extracted text too large"},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.reason, func(t *testing.T) {
			if tt.mode == "oom" && raceEnabled {
				t.Skip("the race detector's shadow memory does not fit under RLIMIT_AS")
			}
			data := tt.data
			if data == nil {
				data = minimalPDF("Hello")
			}
			opts := Options{Sandbox: testSandbox(t, tt.mode, tt.lim)}
			_, err := Bytes(context.Background(), "x.pdf", data, opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestSandboxFuncCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	opts := Options{Sandbox: testSandbox(t, "hang", sandbox.Limits{})}
	_, err := File(ctx, writePDF(t, "x"), opts)
	if !errors.Is(err, context.Canceled) || Reason(err) != "canceled" {
		t.Errorf("err = %v (reason %q), want context.Canceled", err, Reason(err))
	}
}

func TestPDFToTextKeepsPages(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not on PATH (apt-get install poppler-utils)")
	}
	path := writePDF(t, "First page", " ", "Third page")
	for _, sandboxed := range []bool{false, true} {
		t.Run(fmt.Sprint("sandboxed=", sandboxed), func(t *testing.T) {
			opts := Options{PDF: PDFToText}
			if sandboxed {
				opts.Sandbox = testSandbox(t, "extract", DefaultLimits)
			}
			doc, err := File(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range doc.Blocks {
				got = append(got, fmt.Sprintf("%d:%s", b.Page, b.Text))
			}
			if want := []string{"1:First page", "3:Third page"}; !reflect.DeepEqual(got, want) {
				t.Errorf("blocks = %q, want %q", got, want)
			}
		})
	}
}

func TestPDFToTextErrors(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not on PATH (apt-get install poppler-utils)")
	}
	opts := Options{PDF: PDFToText}
	_, err := Bytes(context.Background(), "bad.pdf", []byte("%PDF-1.4\nnot really"), opts)
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoText) {
		t.Errorf("garbage: err = %v, want ErrMalformed or ErrNoText", err)
	}
	_, err = pdfToText(context.Background(), writePDF(t, "more than five bytes"), 5)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("output past the limit: err = %v, want ErrTooLarge", err)
	}
}

func TestUnknownPDFEngine(t *testing.T) {
	_, err := File(context.Background(), writePDF(t, "x"), Options{PDF: "mutool"})
	if err == nil || !strings.Contains(err.Error(), "unknown PDF extractor") {
		t.Errorf("err = %v, want unknown PDF extractor", err)
	}
}
