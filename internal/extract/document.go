package extract

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
}
