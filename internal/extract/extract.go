// Package extract turns one file into a Document: its text cut into Blocks in
// reading order, each with its provenance (heading path, line range or PDF page).
//
// It recognises Markdown, plain text, HTML, source code, DOCX, PDF, CSV/TSV,
// XLSX, PPTX, ODT, EPUB, Jupyter notebooks and email by file name, strips
// terminal control sequences from everything it returns, and reports why a file could not be read through a few sentinel errors (see
// Reason). It does not walk folders, chunk text or decide what to index; it
// never prints and never panics on hostile input.
package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxBytes is the size limit used when Options.MaxBytes is zero.
const DefaultMaxBytes int64 = 64 << 20

// Options tunes extraction.
type Options struct {
	MaxBytes int64 // refuse files larger than this (0 = 64 MiB default)

	// PDF picks the PDF text extractor: PDFAuto (also ""), PDFBuiltin or
	// PDFToText.
	PDF string

	// OCR reads PDF pages without a text layer with tesseract (pdftoppm
	// renders them), giving their text the page's number; off by default.
	OCR bool
	// OCRBudget bounds the OCR of one file (0: 5 minutes); past it the
	// file keeps the pages read so far.
	OCRBudget time.Duration

	// Sandbox, when set, extracts PDF and DOCX files, whose parsers take
	// untrusted compressed data, instead of this process: normally
	// SandboxFunc, which runs each in a child process with limits. It gets
	// opts without Sandbox, and a path to read even when Bytes was called.
	Sandbox func(ctx context.Context, path string, opts Options) (*Document, error)
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// Errors callers branch on. Each one becomes a per-file "skipped" or "failed"
// reason in the ingest report; Reason gives the words for it. Errors returned
// by File and Bytes match them with errors.Is.
var (
	// ErrUnsupported means rag has no extractor for this kind of file.
	ErrUnsupported = errors.New("unsupported file type")
	// ErrBinary means a file that should hold text holds NUL bytes or is not
	// valid text.
	ErrBinary = errors.New("binary file")
	// ErrTooLarge means the file, or what it decompresses to, exceeds the limit.
	ErrTooLarge = errors.New("file too large")
	// ErrNoText means extraction found no text: an empty file, or a scanned
	// PDF without a text layer.
	ErrNoText = errors.New("no text")
	// ErrEncrypted means an encrypted PDF or DOCX.
	ErrEncrypted = errors.New("encrypted")
	// ErrMalformed means the file could not be parsed.
	ErrMalformed = errors.New("malformed file")
)

// extractError carries one of the sentinel errors, the short reason Reason
// reports, and the underlying cause, if any.
type extractError struct {
	kind   error  // one of the Err* sentinels
	reason string // short lowercase reason, e.g. "encrypted pdf"
	cause  error  // may be nil
}

func (e *extractError) Error() string {
	if e.cause == nil {
		return e.reason
	}
	return e.reason + ": " + e.cause.Error()
}

func (e *extractError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// newError returns an error that matches kind with errors.Is and reports
// reason through Reason.
func newError(kind error, reason string, cause error) error {
	return &extractError{kind: kind, reason: reason, cause: cause}
}

// outcome is one way an extraction can fail: the sentinel callers match, the
// name it travels under from the sandbox child, the reason Reason gives when
// the error carries none of its own, and whether ingest reports the file as
// skipped (rag does not read such files) rather than failed (it should have).
// outcomes is the one table of them; Known, Reason, Skipped and the child's
// result encoding all read it.
type outcome struct {
	err    error
	name   string
	reason string
	skip   bool
	own    bool // one of this package's sentinels, for Known
}

var outcomes = []outcome{
	{ErrUnsupported, "unsupported", "unsupported file type", true, true},
	{ErrBinary, "binary", "binary file", true, true},
	{ErrTooLarge, "too_large", "file too large", true, true},
	{ErrNoText, "no_text", "no text", true, true},
	{ErrEncrypted, "encrypted", "encrypted", true, true},
	{ErrMalformed, "malformed", "malformed file", false, true},
	{ErrCrashed, "crashed", "extractor crashed", false, true},
	{fs.ErrNotExist, "not_found", "file not found", false, false},
	{fs.ErrPermission, "permission", "permission denied", false, false},
	{context.Canceled, "canceled", "canceled", false, false},
	{context.DeadlineExceeded, "deadline", "timed out", false, false},
}

// outcomeOf returns the first outcome err matches, or nil.
func outcomeOf(err error) *outcome {
	for i := range outcomes {
		if errors.Is(err, outcomes[i].err) {
			return &outcomes[i]
		}
	}
	return nil
}

// Known reports whether err is one of this package's errors, for which Reason
// gives the precise reason (for others it can only say "read error").
func Known(err error) bool {
	if _, ok := errors.AsType[*extractError](err); ok {
		return true
	}
	o := outcomeOf(err)
	return o != nil && o.own
}

// Skipped reports whether a file that failed with err is one rag does not
// read (unsupported, binary, too large, without text, encrypted), to be
// listed as skipped rather than failed.
func Skipped(err error) bool {
	o := outcomeOf(err)
	return o != nil && o.skip
}

// Reason returns a short lowercase human reason for an extraction error, such
// as "encrypted pdf", "no text layer" or "decompression bomb". It returns ""
// for a nil error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*extractError](err); ok {
		return e.reason
	}
	if o := outcomeOf(err); o != nil {
		return o.reason
	}
	return "read error"
}

// File reads the file at path and returns its text as blocks in reading order.
//
// It refuses files larger than Options.MaxBytes with ErrTooLarge before
// reading them, and never holds more than that many bytes of the file.
func File(ctx context.Context, path string, opts Options) (doc *Document, err error) {
	defer recoverMalformed(&doc, &err)
	format, ok := formatOf(path)
	if !ok {
		return nil, newError(ErrUnsupported, "unsupported file type", nil)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat file: %w", err)
	}
	if info.IsDir() {
		return nil, newError(ErrUnsupported, "is a directory", nil)
	}
	limit := opts.maxBytes()
	if info.Size() > limit {
		return nil, tooLarge(info.Size(), limit)
	}
	if opts.Sandbox != nil && sandboxed(format) {
		return opts.Sandbox(ctx, path, childOptions(opts))
	}
	if format == FormatPDF {
		// pdftext and pdftotext read the file themselves, page by page.
		return extractPDFFile(ctx, path, opts)
	}
	// Read at most limit+1 bytes: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read file: %w", err)
	}
	return extractBytes(ctx, path, format, data, opts)
}

// Bytes is File for content already in memory (used by fuzz tests and by
// callers that already read the file). path picks the extractor and is
// recorded in Document.Path; it is read only for PDFs, which Bytes writes
// to a temporary file first.
func Bytes(ctx context.Context, path string, data []byte, opts Options) (doc *Document, err error) {
	defer recoverMalformed(&doc, &err)
	format, ok := formatOf(path)
	if !ok {
		return nil, newError(ErrUnsupported, "unsupported file type", nil)
	}
	return extractBytes(ctx, path, format, data, opts)
}

// extractBytes checks the limits shared by every format and dispatches on
// format.
func extractBytes(ctx context.Context, path string, format Format, data []byte, opts Options) (*Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := opts.maxBytes()
	if int64(len(data)) > limit {
		return nil, tooLarge(int64(len(data)), limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, newError(ErrNoText, "empty file", nil)
	}
	if opts.Sandbox != nil && sandboxed(format) {
		// The child reads a file: these very bytes, not what is on disk now.
		return viaTempFile(ctx, path, data, func(tmp string) (*Document, error) {
			return opts.Sandbox(ctx, tmp, childOptions(opts))
		})
	}
	doc := &Document{Path: path, Format: format}
	var err error
	switch format {
	case FormatMarkdown:
		err = extractMarkdown(ctx, doc, data)
	case FormatText:
		err = extractText(ctx, doc, data, textKind(path))
	case FormatCode:
		err = extractCode(ctx, doc, data)
	case FormatHTML:
		err = extractHTML(ctx, doc, data)
	case FormatDOCX:
		err = extractDOCX(ctx, doc, data, limit)
	case FormatTable:
		sep := ','
		if strings.EqualFold(filepath.Ext(path), ".tsv") {
			sep = '\t'
		}
		if looksTabular(data, byte(sep)) {
			err = extractTable(ctx, doc, data, sep)
		} else {
			doc.Format = FormatText
			err = extractText(ctx, doc, data, KindTable)
		}
	case FormatNotebook:
		err = extractNotebook(ctx, doc, data)
	case FormatPPTX:
		err = extractPPTX(ctx, doc, data, limit)
	case FormatODT:
		err = extractODT(ctx, doc, data, limit)
	case FormatEPUB:
		err = extractEPUB(ctx, doc, data, limit)
	case FormatXLSX:
		err = extractXLSX(ctx, doc, data, limit)
	case FormatEmail:
		err = extractEmail(ctx, doc, data)
	case FormatPDF:
		return extractPDFBytes(ctx, path, data, opts)
	default:
		return nil, newError(ErrUnsupported, "unsupported file type", nil)
	}
	if err != nil {
		return nil, err
	}
	return finish(doc)
}

// finish cleans every block, drops the empty ones and reports ErrNoText when
// nothing is left.
func finish(doc *Document) (*Document, error) {
	kept := doc.Blocks[:0]
	for _, b := range doc.Blocks {
		b.Text = strings.TrimRight(CleanText(b.Text), " \t\n")
		b.Text = strings.TrimLeft(b.Text, "\n")
		if strings.TrimSpace(b.Text) == "" {
			continue
		}
		if b.EndLine < b.StartLine {
			b.EndLine = b.StartLine
		}
		kept = append(kept, b)
	}
	doc.Blocks = kept
	doc.Title = collapseSpace(CleanText(doc.Title))
	if len(doc.Blocks) == 0 {
		return nil, newError(ErrNoText, "no text", nil)
	}
	return doc, nil
}

func tooLarge(size, limit int64) error {
	return newError(ErrTooLarge, "file too large",
		fmt.Errorf("%d bytes exceeds the %d byte limit", size, limit))
}

// recoverMalformed turns a panic in an extractor into ErrMalformed, so one
// hostile file cannot stop an ingest.
func recoverMalformed(doc **Document, err *error) {
	r := recover()
	if r == nil {
		return
	}
	*doc = nil
	cause, ok := r.(error)
	if !ok {
		cause = fmt.Errorf("%v", r)
	}
	*err = newError(ErrMalformed, "malformed file", fmt.Errorf("extractor panic: %w", cause))
}

// Supported reports whether rag has an extractor for path (by extension or
// well-known name such as README or Makefile).
func Supported(path string) bool {
	_, ok := formatOf(path)
	return ok
}

var extFormats = map[string]Format{
	".md": FormatMarkdown, ".markdown": FormatMarkdown, ".mdx": FormatMarkdown,

	".txt": FormatText, ".text": FormatText, ".rst": FormatText, ".org": FormatText,
	".adoc": FormatText, ".asciidoc": FormatText, ".log": FormatText,

	".csv": FormatTable, ".tsv": FormatTable,
	".ipynb": FormatNotebook,
	".eml":   FormatEmail,
	".pptx":  FormatPPTX, ".odt": FormatODT, ".epub": FormatEPUB,
	".xlsx": FormatXLSX,

	".html": FormatHTML, ".htm": FormatHTML, ".xhtml": FormatHTML,

	".docx": FormatDOCX,
	".pdf":  FormatPDF,
}

var codeExts = []string{
	".go", ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx",
	".java", ".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".rs", ".rb",
	".php", ".cs", ".fs", ".swift", ".kt", ".kts", ".scala", ".groovy", ".gradle",
	".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".sql", ".lua", ".r", ".m", ".mm",
	".pl", ".pm", ".hs", ".ml", ".mli", ".ex", ".exs", ".erl", ".hrl", ".clj", ".cljs",
	".edn", ".el", ".lisp", ".scm", ".jl", ".yaml", ".yml", ".toml", ".json", ".jsonc",
	".json5", ".ini", ".cfg", ".conf", ".properties", ".env", ".proto", ".thrift",
	".graphql", ".gql", ".css", ".scss", ".sass", ".less", ".vue", ".svelte", ".astro",
	".dart", ".zig", ".nim", ".tf", ".tfvars", ".hcl", ".mk", ".cmake", ".xml", ".xsd",
	".v", ".sv", ".vhd", ".d", ".cr", ".jl", ".elm", ".purs", ".sol", ".nix", ".bzl",
	".star", ".tex", ".bib", ".awk", ".sed", ".vim", ".rkt", ".f90", ".ada", ".pas",
}

func init() {
	for _, ext := range codeExts {
		extFormats[ext] = FormatCode
	}
}

// wellKnownNames are extensionless files that hold plain text.
var wellKnownNames = map[string]bool{
	"readme": true, "license": true, "licence": true, "copying": true, "notice": true,
	"changelog": true, "changes": true, "history": true, "news": true, "authors": true,
	"contributors": true, "contributing": true, "todo": true, "install": true,
	"makefile": true, "gnumakefile": true, "dockerfile": true, "containerfile": true,
	"jenkinsfile": true, "vagrantfile": true, "gemfile": true, "rakefile": true,
	"procfile": true, "brewfile": true, "justfile": true, "codeowners": true,
}

// formatOf picks the extractor for path from its extension, or from its whole
// name for well-known extensionless files.
func formatOf(path string) (Format, bool) {
	base := filepath.Base(path)
	ext := strings.ToLower(filepath.Ext(base))
	if ext != "" && ext != base {
		f, ok := extFormats[ext]
		return f, ok
	}
	if wellKnownNames[strings.ToLower(base)] {
		return FormatText, true
	}
	return "", false
}

// textKind is the block kind for plain-text paragraphs: tabular files are cut
// at rows, everything else at sentences.
func textKind(path string) Kind {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv":
		return KindTable
	}
	return KindParagraph
}
