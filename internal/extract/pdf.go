package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ragcli/rag/internal/pdftext"
	"github.com/ragcli/rag/internal/sandbox"
)

// PDF extractors for Options.PDF.
const (
	// PDFAuto, the default (also ""), is the built-in extractor first and,
	// for a file it cannot read, pdftotext when it is on PATH.
	PDFAuto = "auto"
	// PDFBuiltin is rag's own extractor (internal/pdftext) alone.
	PDFBuiltin = "builtin"
	// PDFToText runs poppler's pdftotext alone, which must be on PATH.
	PDFToText = "pdftotext"
)

// ErrCrashed means the extractor, run in a child process by
// Options.Sandbox, hung, ran out of memory or crashed on the file. Reason
// says which: "timed out after 60s", "out of memory", "crashed: panic: ...".
var ErrCrashed = errors.New("extractor crashed")

// pdfExtract is the built-in PDF text extractor; tests replace it.
var pdfExtract = pdftext.Extract

// pdfToTextPath finds pdftotext; tests replace it.
var pdfToTextPath = func() (string, error) { return exec.LookPath("pdftotext") }

// pdfRead is what a PDF engine returns: the text, which engine read it
// (PDFBuiltin or PDFToText) and, when the file could not be read, whether
// pdftotext, which is not installed, might have.
type pdfRead struct {
	res     *pdftext.Result
	engine  string
	suggest bool
}

// readPDF runs the engine opts.PDF names on path.
func readPDF(ctx context.Context, path string, opts Options) (pdfRead, error) {
	limit := opts.maxBytes()
	switch opts.PDF {
	case PDFBuiltin:
		res, err := pdfExtract(ctx, path)
		return pdfRead{res: res, engine: PDFBuiltin}, err
	case PDFToText:
		res, err := pdfToText(ctx, path, limit)
		return pdfRead{res: res, engine: PDFToText}, err
	case "", PDFAuto:
		res, err := pdfExtract(ctx, path)
		if err == nil || ctx.Err() != nil {
			return pdfRead{res: res, engine: PDFBuiltin}, err
		}
		if !errors.Is(err, pdftext.ErrMalformed) && !errors.Is(err, pdftext.ErrNoText) && !errors.Is(err, pdftext.ErrEncrypted) {
			return pdfRead{engine: PDFBuiltin}, err
		}
		// pdftotext reads many damaged files, fonts and security handlers
		// the built-in reader does not (a file it cannot decrypt either
		// stays encrypted; a scan has no text for it either).
		if _, lerr := pdfToTextPath(); lerr != nil {
			return pdfRead{engine: PDFBuiltin, suggest: errors.Is(err, pdftext.ErrMalformed)}, err
		}
		if res2, err2 := pdfToText(ctx, path, limit); err2 == nil && hasPageText(res2) {
			return pdfRead{res: res2, engine: PDFToText}, nil
		} else if ctx.Err() != nil {
			return pdfRead{}, ctx.Err()
		}
		return pdfRead{engine: PDFBuiltin}, err // the built-in reader says more precisely why
	}
	return pdfRead{}, fmt.Errorf("unknown PDF extractor %q (want %s, %s or %s)", opts.PDF, PDFAuto, PDFBuiltin, PDFToText)
}

func hasPageText(res *pdftext.Result) bool {
	if res == nil {
		return false
	}
	for _, p := range res.Pages {
		if strings.TrimSpace(p) != "" {
			return true
		}
	}
	return false
}

// extractPDFFile returns one block per paragraph of each page, paragraphs
// being separated by blank lines in the page text.
func extractPDFFile(ctx context.Context, path string, opts Options) (*Document, error) {
	read, err := readPDF(ctx, path, opts)
	if opts.OCR && (err == nil && read.res == nil || errors.Is(err, pdftext.ErrNoText) || errors.Is(err, pdftext.ErrMalformed)) {
		// No text layer, or one no reader gets at: the page images may
		// still be readable.
		if doc, oerr := ocrOnly(ctx, path, opts.OCRBudget); oerr == nil {
			return doc, nil
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if err != nil {
		err = pdfError(err)
		if e, ok := errors.AsType[*extractError](err); ok && read.suggest {
			e.reason += " (install poppler-utils: rag then tries pdftotext on such files)"
		}
		return nil, err
	}
	res := read.res
	if res == nil {
		return nil, newError(ErrNoText, "no text layer", nil)
	}
	doc := &Document{Path: path, Format: FormatPDF, Title: res.Title, Engine: read.engine, Repair: res.Repair}
	var scanned map[int]string
	if opts.OCR {
		var blank []int
		for i, page := range res.Pages {
			if strings.TrimSpace(page) == "" {
				blank = append(blank, i+1)
			}
		}
		if images, ok := scanPages(ctx, path); ok && len(blank) > 0 {
			// In a file with a text layer, a page without one is read
			// only when it shows a scan: most are blank or drawings.
			blank = slices.DeleteFunc(blank, func(p int) bool { return !images[p] })
		}
		if len(blank) > 0 {
			var capped bool
			scanned, capped, _ = ocrPDF(ctx, path, blank, opts.OCRBudget) // a page OCR cannot read stays without text
			doc.OCRPages = len(scanned)
			if capped {
				doc.Capped = "OCR stopped early (page or time limit)"
			}
		}
	}
	for i, page := range res.Pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t, ok := scanned[i+1]; ok {
			page = t
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

// ocrOnly reads every page of a PDF without a text layer with OCR.
func ocrOnly(ctx context.Context, path string, budget time.Duration) (*Document, error) {
	scanned, capped, err := ocrPDF(ctx, path, nil, budget)
	if err != nil {
		return nil, err
	}
	doc := &Document{Path: path, Format: FormatPDF, Engine: PDFOCR, OCRPages: len(scanned)}
	if capped {
		doc.Capped = "OCR stopped early (page or time limit)"
	}
	for _, p := range slices.Sorted(maps.Keys(scanned)) {
		for _, para := range paragraphs(CleanText(scanned[p])) {
			doc.Blocks = append(doc.Blocks, Block{Text: para, Kind: KindParagraph, Page: p})
		}
	}
	if len(doc.Blocks) == 0 {
		return nil, newError(ErrNoText, "no text layer", errors.New("OCR found no text"))
	}
	return finish(doc)
}

// extractPDFBytes hands data to the PDF extractor through a temporary file,
// since pdftext reads from a path.
func extractPDFBytes(ctx context.Context, path string, data []byte, opts Options) (*Document, error) {
	return viaTempFile(ctx, path, data, func(tmp string) (*Document, error) {
		return extractPDFFile(ctx, tmp, opts)
	})
}

// viaTempFile writes data to a temporary file with path's extension, runs
// extract on it and reports path as the document's path.
func viaTempFile(ctx context.Context, path string, data []byte, extract func(tmp string) (*Document, error)) (*Document, error) {
	f, err := os.CreateTemp("", "rag-extract-*"+strings.ToLower(filepath.Ext(path)))
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
	doc, err := extract(f.Name())
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
		if me, ok := errors.AsType[*pdftext.MalformedError](err); ok {
			// What the reader found: "malformed pdf: broken
			// cross-reference table at byte 1234".
			var cause error
			if me.Library != "" {
				cause = errors.New(me.Library)
			}
			return newError(ErrMalformed, truncate(CleanText(me.Error()), 200), cause)
		}
		return newError(ErrMalformed, "malformed pdf", err)
	case errors.Is(err, ErrTooLarge):
		return err
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

// pdfToText runs "pdftotext -enc UTF-8 PATH -" and splits its output into
// pages at form feeds. It reads at most limit bytes of text and stops
// pdftotext past that. Reading order (no -layout) is used because -layout
// keeps the columns of a two-column page side by side, which interleaves
// their sentences line by line.
//
// It has no time or memory limit of its own beyond ctx: run under
// Options.Sandbox, it inherits the child's.
func pdfToText(ctx context.Context, path string, limit int64) (*pdftext.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pdftotext", "-enc", "UTF-8", "--", path, "-")
	var stderr bytes.Buffer
	cmd.Stderr = &cappedWriter{w: &stderr, n: 16 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run pdftotext: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run pdftotext: %w", err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, limit+1))
	tooLarge := int64(len(out)) > limit
	if tooLarge {
		cancel() // stop pdftotext rather than read the rest
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil && !tooLarge:
		return nil, ctx.Err()
	case tooLarge:
		return nil, newError(ErrTooLarge, "extracted text too large",
			fmt.Errorf("pdftotext wrote more than %d bytes", limit))
	case werr != nil:
		return nil, pdfToTextError(werr, stderr.String())
	case rerr != nil:
		return nil, fmt.Errorf("read pdftotext output: %w", rerr)
	}
	pages := strings.Split(string(out), "\f")
	if n := len(pages); n > 1 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1] // pdftotext ends every page, the last one too, with \f
	}
	if len(pages) > pdftext.MaxPages {
		pages = pages[:pdftext.MaxPages]
	}
	return &pdftext.Result{Pages: pages}, nil
}

// pdfToTextError maps a failed pdftotext run onto pdftext's errors, by its
// exit status (1: cannot open the PDF, 3: permissions, 99: anything else,
// such as a file with no readable page) and its last message.
func pdfToTextError(err error, stderr string) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run pdftotext: %w", err)
	}
	msg := ee.ProcessState.String()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		msg = last
	}
	switch code := ee.ExitCode(); {
	case code == 3 || strings.Contains(strings.ToLower(stderr), "password"):
		return fmt.Errorf("pdftotext: %w: %s", pdftext.ErrEncrypted, msg)
	case code == 1 || code == 99:
		return fmt.Errorf("pdftotext: %w: %s", pdftext.ErrMalformed, msg)
	}
	return fmt.Errorf("pdftotext %s: %s", ee.ProcessState, msg)
}

// cappedWriter keeps the first n bytes written to it and drops the rest.
type cappedWriter struct {
	w io.Writer
	n int
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.n > 0 {
		q := p[:min(len(p), c.n)]
		c.n -= len(q)
		c.w.Write(q)
	}
	return len(p), nil
}

// sandboxed reports whether format goes through Options.Sandbox: the formats
// whose parsers decompress or interpret untrusted data, and every parser of
// a structured format added since (tables, notebooks, email), under the
// same limits.
func sandboxed(format Format) bool {
	switch format {
	case FormatPDF, FormatDOCX, FormatTable, FormatNotebook, FormatEmail, FormatPPTX, FormatODT, FormatEPUB, FormatXLSX:
		return true
	}
	return false
}

// childOptions is opts as the child process gets them: without a sandbox of
// its own.
func childOptions(opts Options) Options {
	opts.Sandbox = nil
	return opts
}

// DefaultLimits bound one sandboxed extraction.
var DefaultLimits = sandbox.Limits{
	Timeout:     60 * time.Second,
	MemoryBytes: 1 << 30,
	OutputBytes: 64 << 20,
}

// OCRTimeout is the time limit of one sandboxed PDF extraction with
// Options.OCR when the sandbox's own is shorter (DefaultLimits' 60 s): OCR
// takes seconds a page.
var OCRTimeout = 10 * time.Minute

// ChildCommand is the hidden rag subcommand SandboxFunc runs:
//
//	rag __extract --pdf ENGINE --max-bytes N [--ocr --ocr-budget D] -- PATH
//
// It must call sandbox.ChildSetup, extract PATH with File and those options,
// and write the outcome to the result pipe with EncodeResult.
const ChildCommand = "__extract"

// SandboxFunc returns an Options.Sandbox that extracts each file in a child
// process, "exe __extract ... PATH", under lim: a file that hangs, exhausts
// memory or crashes the extractor fails alone with ErrCrashed, and nothing
// the extractor prints reaches this process's output. exe is normally
// os.Executable().
func SandboxFunc(exe string, lim sandbox.Limits) func(ctx context.Context, path string, opts Options) (*Document, error) {
	return func(ctx context.Context, path string, opts Options) (*Document, error) {
		pdf := opts.PDF
		if pdf == "" {
			pdf = PDFAuto
		}
		args := []string{ChildCommand, "--pdf", pdf, "--max-bytes", strconv.FormatInt(opts.maxBytes(), 10)}
		lim := lim
		if opts.OCR {
			if format, _ := formatOf(path); format == FormatPDF {
				lim.Timeout = max(lim.Timeout, OCRTimeout)
			}
			// OCR stops at half the child's time, so that a long scan
			// costs its last pages, never the file.
			args = append(args, "--ocr", "--ocr-budget", (lim.Timeout / 2).String())
		}
		cmd := exec.Command(exe, append(args, "--", path)...)
		out, err := sandbox.Run(ctx, cmd, lim)
		if err != nil {
			return nil, sandboxError(err)
		}
		return decodeResult(out)
	}
}

// sandboxError maps sandbox.Run's errors onto this package's.
func sandboxError(err error) error {
	if ce, ok := errors.AsType[*sandbox.CrashError](err); ok {
		return newError(ErrCrashed, "crashed: "+truncate(ce.Reason, 200), nil)
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, sandbox.ErrTimeout):
		return newError(ErrCrashed, err.Error(), nil) // "timed out after 60s"
	case errors.Is(err, sandbox.ErrOutOfMemory):
		return newError(ErrCrashed, "out of memory", nil)
	case errors.Is(err, sandbox.ErrOutputTooLarge):
		return newError(ErrTooLarge, "extracted text too large", nil)
	}
	return fmt.Errorf("run extractor: %w", err)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}

// childResult is what the child writes to its result pipe: a document or
// an error, never both.
type childResult struct {
	Document *Document   `json:"document,omitempty"`
	Error    *childError `json:"error,omitempty"`
}

// childError carries an extraction error across the process boundary.
type childError struct {
	Kind    string `json:"kind"`             // an outcome name
	Reason  string `json:"reason,omitempty"` // what Reason returned in the child
	Message string `json:"message"`          // err.Error() in the child
}

// EncodeResult writes what File returned, doc or err, as the JSON the
// parent's SandboxFunc decodes.
func EncodeResult(w io.Writer, doc *Document, err error) error {
	var r childResult
	if err != nil {
		ce := &childError{Kind: "other", Message: err.Error()}
		if o := outcomeOf(err); o != nil {
			ce.Kind = o.name
		}
		if e, ok := errors.AsType[*extractError](err); ok {
			ce.Reason = e.reason
		}
		r.Error = ce
	} else {
		r.Document = doc
	}
	return json.NewEncoder(w).Encode(r)
}

// decodeResult turns the child's JSON back into a document or an error that
// matches the same sentinel with errors.Is and has the same Reason.
func decodeResult(data []byte) (*Document, error) {
	var r childResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, newError(ErrCrashed, "crashed: bad result from extractor",
			fmt.Errorf("decode child result: %w", err))
	}
	if r.Error != nil {
		return nil, r.Error.err()
	}
	if r.Document == nil {
		return nil, newError(ErrCrashed, "crashed: empty result from extractor", nil)
	}
	return r.Document, nil
}

func (ce *childError) err() error {
	var kind error
	for _, o := range outcomes {
		if o.name == ce.Kind {
			kind = o.err
		}
	}
	if kind == nil {
		return errors.New(ce.Message)
	}
	if ce.Reason == "" {
		return &remoteError{msg: ce.Message, kind: kind}
	}
	// The message is reason + ": " + cause; keep the cause as text.
	var cause error
	if rest, ok := strings.CutPrefix(ce.Message, ce.Reason+": "); ok {
		cause = errors.New(rest)
	}
	return newError(kind, ce.Reason, cause)
}

// remoteError is an error from the child that is not one of this package's:
// its message, matching its kind (fs.ErrNotExist, context.Canceled ...).
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }
