package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PDFOCR is the Document.Engine of a PDF whose text all came from OCR.
const PDFOCR = "tesseract"

// Bounds on OCR (Options.OCR), within the sandboxed child's own limits
// (OCRLimits), which pdftoppm and tesseract inherit: the address-space
// limit, and the process group killed on timeout.
const (
	// maxOCRPages caps the pages OCR reads from one file; later pages
	// without a text layer are left out and Document.Capped says so.
	maxOCRPages = 100
	// ocrPageTimeout bounds rendering and reading one page.
	ocrPageTimeout = 60 * time.Second
	// ocrPixels is the long side, in pixels, a page is rendered to: an A4
	// page at 300 dpi, the resolution tesseract is trained for. A page of
	// any size costs at most that many pixels squared (12 MP, grey).
	ocrPixels = 3508
	// ocrLanguage is the tesseract language model (tesseract-ocr-eng).
	ocrLanguage = "eng"
	// defaultOCRBudget bounds the OCR of one file when Options.OCRBudget
	// is zero; past it OCR stops and the file keeps what it has.
	defaultOCRBudget = 5 * time.Minute
	// minScanPixels is the smallest image (width x height) that may be a
	// scanned page: logos and icons are smaller.
	minScanPixels = 100_000
	// minOCRConfidence is the least confidence (0-100) tesseract must
	// have in a word for it to be kept: a photograph read as text gives
	// words below 45, a scanned page above 80.
	minOCRConfidence = 60
)

// OCRTools are the programs OCR needs, in the order it runs them, with the
// Debian package that has each.
var OCRTools = []Tool{
	{Name: "pdfinfo", Package: "poppler-utils", For: "--ocr (page count)"},
	{Name: "pdftoppm", Package: "poppler-utils", For: "--ocr (page images)"},
	{Name: "tesseract", Package: "tesseract-ocr tesseract-ocr-eng", For: "--ocr (reading page images)"},
}

// Tool is an optional program rag runs, found on PATH.
type Tool struct {
	Name    string `json:"name"`
	Package string `json:"package"` // the Debian packages that install it
	For     string `json:"for"`     // what rag uses it for
	Path    string `json:"path,omitempty"`
}

// Tools are every optional program extraction uses: pdftotext for --pdf
// auto and pdftotext, then OCRTools, then pdfimages, which --ocr uses when
// it is there. Path is set for those found on PATH.
func Tools() []Tool {
	all := append([]Tool{{Name: "pdftotext", Package: "poppler-utils", For: "--pdf auto (PDFs the built-in reader refuses) and --pdf pdftotext"}}, OCRTools...)
	all = append(all, Tool{Name: "pdfimages", Package: "poppler-utils", For: "--ocr (which pages are scans)"})
	for i := range all {
		if p, err := lookPath(all[i].Name); err == nil {
			all[i].Path = p
		}
	}
	return all
}

// lookPath finds a program on PATH; tests replace it.
var lookPath = exec.LookPath

// MissingOCRTool returns the first program OCR needs that is not on PATH,
// or nil when all are there.
func MissingOCRTool() *Tool {
	for _, t := range OCRTools {
		if _, err := lookPath(t.Name); err != nil {
			return &t
		}
	}
	return nil
}

// ocrPDF reads the given 1-based pages of the PDF at path with OCR: each is
// rendered by pdftoppm to a grey PNG (ocrPixels on its long side) and read
// by tesseract. With pages nil it reads every page, counted by pdfinfo.
// It returns the text of each page read (pages that fail or hold no text
// are left out) and whether pages were left out: past maxOCRPages, or
// when budget (0: defaultOCRBudget) ran out.
func ocrPDF(ctx context.Context, path string, pages []int, budget time.Duration) (map[int]string, bool, error) {
	if budget <= 0 {
		budget = defaultOCRBudget
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if t := MissingOCRTool(); t != nil {
		return nil, false, fmt.Errorf("ocr: %s not found on PATH (install %s)", t.Name, t.Package)
	}
	if pages == nil {
		n, err := pdfPageCount(ctx, path)
		if err != nil {
			return nil, false, err
		}
		for p := 1; p <= n; p++ {
			pages = append(pages, p)
		}
	}
	capped := len(pages) > maxOCRPages
	pages = pages[:min(len(pages), maxOCRPages)]
	dir, err := os.MkdirTemp("", "rag-ocr-")
	if err != nil {
		return nil, false, fmt.Errorf("ocr: %w", err)
	}
	defer os.RemoveAll(dir)
	out := map[int]string{}
	for _, p := range pages {
		if err := parent.Err(); err != nil {
			return nil, false, err
		}
		if ctx.Err() != nil {
			return out, true, nil // the budget is spent: keep what was read
		}
		text, err := ocrPage(ctx, dir, path, p)
		if err != nil {
			continue // this page alone: a timeout, a page pdftoppm cannot render
		}
		if strings.TrimSpace(text) != "" {
			out[p] = text
		}
	}
	return out, capped, nil
}

// ocrPage renders and reads one page within ocrPageTimeout.
func ocrPage(ctx context.Context, dir, path string, page int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ocrPageTimeout)
	defer cancel()
	base := filepath.Join(dir, "page")
	n := strconv.Itoa(page)
	if _, err := runTool(ctx, "pdftoppm", "-f", n, "-l", n, "-singlefile", "-gray", "-png",
		"-scale-to", strconv.Itoa(ocrPixels), "--", path, base); err != nil {
		return "", err
	}
	img := base + ".png"
	defer os.Remove(img)
	tsv, err := runTool(ctx, "tesseract", img, "stdout", "-l", ocrLanguage, "tsv")
	if err != nil {
		return "", err
	}
	return confidentText(tsv, minOCRConfidence), nil
}

// confidentText rebuilds a page's text from tesseract's TSV output
// (level, page, block, paragraph, line, word, box, conf, text), keeping
// the words whose confidence is at least min: a line per line, a blank
// line between paragraphs.
func confidentText(tsv string, min float64) string {
	var b strings.Builder
	lastPara, lastLine := "", ""
	for _, row := range strings.Split(tsv, "\n") {
		f := strings.Split(row, "\t")
		if len(f) < 12 || f[0] != "5" {
			continue // the header, and the page, block, paragraph and line rows
		}
		conf, err := strconv.ParseFloat(f[10], 64)
		word := strings.TrimSpace(f[11])
		if err != nil || conf < min || word == "" {
			continue
		}
		para, line := f[2]+"."+f[3], f[2]+"."+f[3]+"."+f[4]
		switch {
		case b.Len() == 0:
		case para != lastPara:
			b.WriteString("\n\n")
		case line != lastLine:
			b.WriteByte('\n')
		default:
			b.WriteByte(' ')
		}
		b.WriteString(word)
		lastPara, lastLine = para, line
	}
	return b.String()
}

// scanPages returns the pages that draw an image large enough to be a
// scanned page, as poppler's pdfimages lists them; ok is false when
// pdfimages is missing or fails, and then nothing is known.
func scanPages(ctx context.Context, path string) (pages map[int]bool, ok bool) {
	if _, err := lookPath("pdfimages"); err != nil {
		return nil, false
	}
	out, err := runTool(ctx, "pdfimages", "-list", "--", path)
	if err != nil {
		return nil, false
	}
	pages = map[int]bool{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[2] != "image" {
			continue // the header, its rule, masks and stencils
		}
		p, err1 := strconv.Atoi(f[0])
		w, err2 := strconv.Atoi(f[3])
		h, err3 := strconv.Atoi(f[4])
		if err1 == nil && err2 == nil && err3 == nil && w*h >= minScanPixels {
			pages[p] = true
		}
	}
	return pages, true
}

// pdfPageCount asks pdfinfo for the number of pages.
func pdfPageCount(ctx context.Context, path string) (int, error) {
	out, err := runTool(ctx, "pdfinfo", "--", path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				break
			}
			return n, nil
		}
	}
	return 0, errors.New("pdfinfo: no page count")
}

// maxToolOutput bounds what runTool reads of a program's output.
const maxToolOutput = 4 << 20

// runTool runs an OCR program and returns its standard output, at most
// maxToolOutput bytes; its stderr's last line explains a failure. One
// thread: the sandbox runs two extractions at a time on their own.
func runTool(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &cappedWriter{w: &stdout, n: maxToolOutput}
	cmd.Stderr = &cappedWriter{w: &stderr, n: 16 << 10}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		return "", fmt.Errorf("%s: %w: %s", name, err, lines[len(lines)-1])
	}
	return stdout.String(), nil
}
