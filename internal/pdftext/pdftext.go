// Package pdftext extracts the text of PDF files, page by page, with
// github.com/ledongthuc/pdf.
//
// It rebuilds lines, words, paragraphs and two-column reading order from the
// positioned text runs of each page instead of trusting the library's plain
// text, which glues words together. It treats pages whose text decodes to
// garbage as empty.
//
// It does not do OCR, does not decrypt password-protected files, and cannot
// protect the process from every hostile file: the library can hang or exhaust
// memory on some inputs (a self-referencing xref /Prev, huge xref object
// numbers), so callers that read untrusted files should run Extract in a child
// process with time and memory limits. Panics inside the library are
// recovered and reported as ErrMalformed.
package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/ledongthuc/pdf"
)

// Result is the text of one PDF.
type Result struct {
	// Title is the /Title of the document information dictionary, or "".
	Title string
	// Pages[i] is the text of page i+1; it is "" for a page with no text.
	Pages []string
	// Repair says what Extract mended to read the file (RepairXref), "" when
	// it read the file as it was.
	Repair string

	failed int // pages that could not be read, their text left ""
}

// Errors callers branch on. Extract wraps them, so test with errors.Is.
var (
	// ErrEncrypted means the file needs a password, or uses an encryption
	// scheme the reader cannot open.
	ErrEncrypted = errors.New("encrypted pdf")
	// ErrNoText means no page has a usable text layer: the file is scanned
	// images, or its text decodes to garbage.
	ErrNoText = errors.New("no text layer")
	// ErrMalformed means the file is not a PDF the reader can parse.
	ErrMalformed = errors.New("malformed pdf")
)

// MaxPages caps the number of pages read from one file; later pages are
// ignored. It bounds the work a hostile page tree can cause.
const MaxPages = 10000

// maxTreeDepth and maxTreeNodes bound the walk of the page tree, which may be
// cyclic or absurdly deep in malformed files.
const (
	maxTreeDepth = 64
	maxTreeNodes = 4 * MaxPages
)

// Extract reads the PDF at path and returns its title and the text of each
// page. It checks ctx between pages.
//
// When the library refuses the file as malformed, Extract rebuilds its
// cross-reference table from the objects' own markers and tries again
// (Result.Repair says so). Errors wrap ErrEncrypted, ErrNoText or
// ErrMalformed where they apply, the last as a *MalformedError saying what
// was found; other errors come from opening the file or from ctx.
func Extract(ctx context.Context, path string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open pdf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat pdf: %w", err)
	}
	if st.Size() > maxGuardBytes {
		r, err := newReader(f, st.Size())
		if err != nil {
			return nil, err
		}
		return extract(ctx, r)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read pdf: %w", err)
	}
	res, err := extractData(ctx, data)
	if err == nil && res.failed > 0 {
		// Some pages failed (a filter the library lacks, an object it
		// cannot load): the repaired copy may read them.
		if fixed, rerr := extractRepaired(ctx, data); rerr == nil && fixed.failed < res.failed {
			return fixed, nil
		}
	}
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	if errors.Is(err, ErrNoText) {
		// The library may have read the pages and found their content
		// missing: a content stream the table misplaces (a damaged
		// object header). The repaired copy is read too, and kept only
		// when it has text.
		if res, rerr := extractRepaired(ctx, data); rerr == nil {
			return res, nil
		}
		return nil, err
	}
	if !errors.Is(err, ErrMalformed) {
		return res, err
	}
	fixed, rerr := repair(data)
	if rerr != nil {
		return nil, found(err, data, rerr)
	}
	r, rerr := newReader(bytes.NewReader(fixed), int64(len(fixed)))
	if rerr == nil {
		res, rerr = extract(ctx, r)
	}
	if rerr == nil {
		res.Repair = RepairXref
		return res, nil
	}
	if errors.Is(rerr, ErrEncrypted) || errors.Is(rerr, ErrNoText) {
		return nil, rerr // the repaired file got further
	}
	return nil, found(err, data, rerr)
}

// extractRepaired is Extract on the repaired copy of data.
func extractRepaired(ctx context.Context, data []byte) (*Result, error) {
	fixed, err := repair(data)
	if err != nil {
		return nil, err
	}
	r, err := newReader(bytes.NewReader(fixed), int64(len(fixed)))
	if err != nil {
		return nil, err
	}
	res, err := extract(ctx, r)
	if err != nil {
		return nil, err
	}
	res.Repair = RepairXref
	return res, nil
}

// extractData is Extract on the file's bytes, as they are.
func extractData(ctx context.Context, data []byte) (*Result, error) {
	if err := precheck(data); err != nil {
		return nil, err
	}
	r, err := newReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	return extract(ctx, r)
}

// found turns err, a malformed-file error of the file as it was, and
// rerr, what the attempt to repair it ended with, into a *MalformedError
// saying what the reader found: for a file it could not open, what is wrong
// with its structure (diagnose), otherwise the library's own words; then
// what stopped the repaired file, when that is something else.
func found(err error, data []byte, rerr error) error {
	msg := err.Error()
	what := libraryWords(msg)
	opened := !strings.HasPrefix(msg, "open pdf: ") && !strings.HasPrefix(msg, "check xref: ")
	if !opened {
		what = diagnose(data)
	}
	if me, ok := errors.AsType[*MalformedError](rerr); ok {
		what += "; " + me.Found
	} else if after := libraryWords(rerr.Error()); opened && after != what || !opened {
		what += "; with the table rebuilt: " + after
	}
	me := &MalformedError{Found: what}
	if lib := libraryWords(msg); !strings.Contains(what, lib) {
		me.Library = lib
	}
	return me
}

// libraryWords strips the prefixes this package and the library put before
// what went wrong: "read page 2: malformed pdf: unknown filter LZWDecode"
// becomes "unknown filter LZWDecode (page 2)".
func libraryWords(msg string) string {
	page := ""
	if rest, ok := strings.CutPrefix(msg, "read page "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			page, msg = " (page "+n+")", tail
		}
	}
	for _, p := range []string{"open pdf: ", "read pdf: ", "check xref: ", "read page tree: ", "malformed pdf: ", "malformed PDF file: ", "malformed PDF: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg + page
}

// newReader opens the PDF and maps the library's errors and panics onto the
// package's sentinel errors.
func newReader(f io.ReaderAt, size int64) (r *pdf.Reader, err error) {
	defer func() {
		if x := recover(); x != nil {
			r, err = nil, fmt.Errorf("open pdf: %w: %v", ErrMalformed, x)
		}
	}()
	r, err = pdf.NewReader(headerFixer{f}, size)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "encrypt") {
			return nil, fmt.Errorf("open pdf: %w: %v", ErrEncrypted, err)
		}
		return nil, fmt.Errorf("open pdf: %w: %v", ErrMalformed, err)
	}
	return r, nil
}

// headerFixer shows the library a "%PDF-1.7\n" header for any file that
// starts with "%PDF-": the library rejects PDF 2.0 and headers followed by a
// space or NUL, which readers accept. The replacement has the same length, so
// no offset moves.
type headerFixer struct{ f io.ReaderAt }

var pdfHeader = []byte("%PDF-1.7\n")

func (h headerFixer) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.f.ReadAt(p, off)
	if off < int64(len(pdfHeader)) && n > 0 {
		var head [9]byte
		if m, _ := h.f.ReadAt(head[:], 0); m == len(head) && bytes.HasPrefix(head[:], []byte("%PDF-")) {
			end := min(int64(len(pdfHeader)), off+int64(n))
			copy(p, pdfHeader[off:end])
		}
	}
	return n, err
}

// extract walks the pages of an opened reader.
func extract(ctx context.Context, r *pdf.Reader) (res *Result, err error) {
	defer func() {
		if x := recover(); x != nil {
			res, err = nil, fmt.Errorf("read pdf: %w: %v", ErrMalformed, x)
		}
	}()
	res = &Result{Title: title(r)}
	pages, err := pageList(r)
	if err != nil {
		return nil, err
	}
	res.Pages = make([]string, len(pages))
	var anyText bool
	var pageErr error
	for i, p := range pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		text, garbage, err := pageText(p)
		if err != nil {
			res.failed++
			if pageErr == nil {
				pageErr = fmt.Errorf("read page %d: %w", i+1, err)
			}
			continue
		}
		if garbage {
			continue
		}
		res.Pages[i] = text
		anyText = anyText || text != ""
	}
	if !anyText {
		if pageErr != nil {
			return nil, pageErr
		}
		return nil, fmt.Errorf("read pdf: %w", ErrNoText)
	}
	return res, nil
}

// title returns the document information /Title, cleaned of control runes.
func title(r *pdf.Reader) string {
	t := r.Trailer().Key("Info").Key("Title")
	if t.Kind() != pdf.String {
		return ""
	}
	s := strings.Map(func(c rune) rune {
		if c == '\uFFFD' || c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, t.Text())
	return strings.Join(strings.Fields(s), " ")
}

// pageList walks the page tree depth first. It does not trust /Count, which
// malformed files set to absurd values, and it skips nodes already visited, so
// a cyclic tree terminates.
func pageList(r *pdf.Reader) ([]pdf.Page, error) {
	root := r.Trailer().Key("Root").Key("Pages")
	if root.Kind() != pdf.Dict {
		return nil, fmt.Errorf("read page tree: %w: no /Pages dictionary", ErrMalformed)
	}
	var (
		pages []pdf.Page
		nodes int
		seen  = map[objID]bool{}
	)
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if len(pages) >= MaxPages || nodes >= maxTreeNodes || depth > maxTreeDepth {
			return
		}
		nodes++
		if id, ok := identity(v); ok {
			if seen[id] {
				return
			}
			seen[id] = true
		}
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Page" || (kids.Kind() != pdf.Array && v.Key("Contents").Kind() != pdf.Null) {
			pages = append(pages, pdf.Page{V: v})
			return
		}
		for i := 0; i < kids.Len(); i++ {
			kid := kids.Index(i)
			if kid.Kind() != pdf.Dict {
				continue
			}
			walk(kid, depth+1)
		}
	}
	walk(root, 0)
	if len(pages) == 0 {
		return nil, fmt.Errorf("read page tree: %w: no pages", ErrMalformed)
	}
	return pages, nil
}

// objID identifies an indirect PDF object.
type objID struct {
	id  uint64
	gen uint64
}

// identity returns the object number of v when v is an indirect object. The
// library keeps it in an unexported field; reading it through reflect is the
// only way to detect cycles in the page tree without re-parsing the file.
func identity(v pdf.Value) (objID, bool) {
	defer func() { _ = recover() }()
	p := reflect.ValueOf(v).FieldByName("ptr")
	if !p.IsValid() || p.Kind() != reflect.Struct || p.NumField() < 2 {
		return objID{}, false
	}
	id, gen := p.Field(0), p.Field(1)
	if !isUint(id) || !isUint(gen) || id.Uint() == 0 {
		return objID{}, false
	}
	return objID{id.Uint(), gen.Uint()}, true
}

func isUint(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// pageText returns the text of one page and whether its raw text is
// garbage. It lays out the glyphs found by its own content interpreter, falls
// back to the library's positioned text, and then to the library's plain text.
func pageText(p pdf.Page) (text string, garbage bool, err error) {
	gs, err := pageGlyphs(p)
	if err != nil {
		gs, err = libraryGlyphs(p)
	}
	if err != nil {
		text, perr := plainText(p)
		if perr != nil {
			return "", false, err
		}
		return text, isGarbage(text), nil
	}
	var raw strings.Builder
	for _, g := range gs {
		raw.WriteString(g.s)
	}
	if isGarbage(raw.String()) {
		return "", true, nil
	}
	return layout(gs), false, nil
}

// plainText is the library's own extraction, the last resort.
func plainText(p pdf.Page) (text string, err error) {
	defer func() {
		if x := recover(); x != nil {
			text, err = "", fmt.Errorf("%w: %v", ErrMalformed, x)
		}
	}()
	text, err = p.GetPlainText(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return normalize(text), nil
}

// libraryGlyphs converts the library's positioned text into glyphs.
func libraryGlyphs(p pdf.Page) (gs []glyph, err error) {
	defer func() {
		if x := recover(); x != nil {
			gs, err = nil, fmt.Errorf("%w: %v", ErrMalformed, x)
		}
	}()
	for i, t := range p.Content().Text {
		gs = append(gs, glyph{x: t.X, y: t.Y, w: t.W, size: t.FontSize, s: t.S, order: i})
	}
	return gs, nil
}
