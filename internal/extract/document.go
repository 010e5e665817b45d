package extract

import (
	"fmt"
	"strings"
)

// Format names the kind of document an extractor recognised.
type Format string

// The formats rag extracts. Code covers every source-code language rag knows.
const (
	FormatMarkdown Format = "markdown"
	FormatText     Format = "text"
	FormatHTML     Format = "html"
	FormatPDF      Format = "pdf"
	FormatDOCX     Format = "docx"
	FormatCode     Format = "code"
	FormatTable    Format = "table"    // CSV and TSV: one block per row
	FormatNotebook Format = "notebook" // Jupyter .ipynb: Markdown and code cells
	FormatEmail    Format = "email"    // RFC 5322 .eml: headers, text, attachments named
	FormatPPTX     Format = "pptx"     // PowerPoint: one block per slide
	FormatODT      Format = "odt"      // OpenDocument text, like DOCX
	FormatEPUB     Format = "epub"     // e-books: chapters in spine order
	FormatXLSX     Format = "xlsx"     // Excel workbooks: one block per row
)

// Kind says what a Block holds, so the chunker knows where it may cut.
type Kind int

// Block kinds. A chunker prefers to cut between blocks, and keeps a Code block
// whole when it fits.
const (
	KindParagraph Kind = iota // prose: split at sentences, then words
	KindHeading               // a heading line; Headings already includes it
	KindCode                  // a fenced code block or a source file region: split at lines
	KindList                  // list items, split at lines
	KindTable                 // table rows, split at lines
)

// Document is the text of one file, cut into blocks in reading order.
type Document struct {
	Path   string // as given to File
	Format Format
	Title  string // front-matter title, <title>, first H1, DOCX or PDF title; may be empty
	Blocks []Block

	// Encoding names the character encoding a text file was decoded from
	// when it was not UTF-8: EncodingUTF16LE, EncodingUTF16BE or
	// EncodingWindows1252 (the fallback for invalid UTF-8); "" for UTF-8.
	Encoding string `json:",omitempty"`
	// Engine names what read a PDF: PDFBuiltin or PDFToText; "" for other
	// formats.
	Engine string `json:",omitempty"`
	// Repair says what the built-in PDF reader mended to read the file,
	// such as "rebuilt the cross-reference table"; "" when nothing was.
	Repair string `json:",omitempty"`
	// Capped says what was left out to keep a huge file bounded, such as
	// "capped at 100000 rows"; "" when the whole file was read.
	Capped string `json:",omitempty"`
	// OCRPages counts the PDF pages whose text came from OCR.
	OCRPages int `json:",omitempty"`
}

// Block is a run of text with one provenance: its heading path and its place in
// the source (lines for text formats, a page for PDFs).
type Block struct {
	Text      string
	Kind      Kind
	Headings  []string // heading path from the outermost heading down; nil at top level
	StartLine int      // 1-based first line in the source file; 0 when unknown (HTML, DOCX, PDF)
	EndLine   int      // 1-based last line, inclusive; 0 when unknown
	Page      int      // 1-based PDF page; 0 for other formats
	// Anchor is the citation fragment (after '#') of a block that lines
	// cannot locate: "slide=2", "sheet=Q1&row=5" (XLSX), "row=5" (CSV),
	// "cell=3" (notebooks); "" otherwise. PDF pages are in Page.
	Anchor string `json:",omitempty"`
}

// ReadNote says in a few words how doc was read when that was not the usual
// way, for the ingest report: "decoded as windows-1252", "read by
// pdftotext", "repaired: rebuilt the cross-reference table". It is "" for a
// UTF-8 text file or a PDF the built-in reader read as it was.
func ReadNote(doc *Document) string {
	if doc == nil {
		return ""
	}
	var notes []string
	if doc.Encoding != "" {
		notes = append(notes, "decoded as "+doc.Encoding)
	}
	if doc.Engine != "" && doc.Engine != PDFBuiltin {
		notes = append(notes, "read by "+doc.Engine)
	}
	if doc.Repair != "" {
		notes = append(notes, "repaired: "+doc.Repair)
	}
	if doc.OCRPages == 1 {
		notes = append(notes, "OCR of 1 page")
	} else if doc.OCRPages > 1 {
		notes = append(notes, fmt.Sprintf("OCR of %d pages", doc.OCRPages))
	}
	if doc.Capped != "" {
		notes = append(notes, doc.Capped)
	}
	return strings.Join(notes, "; ")
}
