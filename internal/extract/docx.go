package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits that keep a hostile .docx from exhausting memory.
const (
	maxZipEntries = 10000     // entries a .docx may hold
	maxInflated   = 256 << 20 // bytes read out of the decompressor, at most
	inflateFactor = 8         // and at most this many times Options.MaxBytes
)

// oleMagic starts an OLE compound file: what Word writes for an encrypted
// .docx (and for legacy .doc files).
var oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0}

// extractDOCX reads the paragraphs of word/document.xml in order. Paragraph
// styles Title and Heading1..6 (or any style whose name is "heading N" or
// that sets an outline level) set the heading path; numbered paragraphs
// become list blocks and table paragraphs table blocks. Line numbers stay 0.
func extractDOCX(ctx context.Context, doc *Document, data []byte, limit int64) error {
	if bytes.HasPrefix(data, oleMagic) {
		return newError(ErrEncrypted, "encrypted docx", nil)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return newError(ErrMalformed, "malformed docx", fmt.Errorf("open zip: %w", err))
	}
	if len(zr.File) > maxZipEntries {
		return newError(ErrTooLarge, "decompression bomb",
			fmt.Errorf("%d zip entries exceeds the limit of %d", len(zr.File), maxZipEntries))
	}
	budget := min(inflateFactor*limit, maxInflated)
	var main, styles, core *zip.File
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml":
			main = f
		case "word/styles.xml":
			styles = f
		case "docProps/core.xml":
			core = f
		}
	}
	if main == nil {
		return newError(ErrMalformed, "malformed docx", errors.New("no word/document.xml"))
	}
	body, err := readZipEntry(main, &budget)
	if err != nil {
		return err
	}
	p := &docxParser{doc: doc, levels: map[string]int{}}
	if styles != nil {
		if b, err := readZipEntry(styles, &budget); err == nil {
			p.readStyles(b)
		} else if errors.Is(err, ErrTooLarge) {
			return err
		}
	}
	if core != nil {
		if b, err := readZipEntry(core, &budget); err == nil {
			doc.Title = coreTitle(b)
		} else if errors.Is(err, ErrTooLarge) {
			return err
		}
	}
	return p.readBody(ctx, body)
}

// readZipEntry reads one zip entry, charging what it inflates to budget.
func readZipEntry(f *zip.File, budget *int64) ([]byte, error) {
	bomb := func() error {
		return newError(ErrTooLarge, "decompression bomb",
			fmt.Errorf("%s inflates past %d bytes", f.Name, *budget))
	}
	if f.UncompressedSize64 > uint64(*budget) {
		return nil, bomb()
	}
	rc, err := f.Open()
	if err != nil {
		return nil, newError(ErrMalformed, "malformed docx", fmt.Errorf("open %s: %w", f.Name, err))
	}
	defer rc.Close()
	// The header's size may lie: count what actually comes out.
	b, err := io.ReadAll(io.LimitReader(rc, *budget+1))
	if int64(len(b)) > *budget {
		return nil, bomb()
	}
	if err != nil {
		return nil, newError(ErrMalformed, "malformed docx", fmt.Errorf("read %s: %w", f.Name, err))
	}
	*budget -= int64(len(b))
	return b, nil
}

// coreTitle returns dc:title from docProps/core.xml.
func coreTitle(b []byte) string {
	var core struct {
		Title string `xml:"title"`
	}
	if err := xml.Unmarshal(b, &core); err != nil {
		return ""
	}
	return core.Title
}

// docxParser walks word/document.xml token by token.
type docxParser struct {
	doc    *Document
	levels map[string]int // heading level by paragraph style ID; 0 is Title
	path   []mdHeading
}

// styleLevel returns the heading level of a paragraph style, or -1.
func (p *docxParser) styleLevel(id string) int {
	if l, ok := p.levels[id]; ok {
		return l
	}
	return nameLevel(id)
}

// nameLevel reads a heading level from a style ID or name such as
// "Heading2", "heading 2" or "Title"; it returns -1 for other styles.
func nameLevel(name string) int {
	name = strings.ToLower(strings.ReplaceAll(name, " ", ""))
	if name == "title" {
		return 0
	}
	if rest, ok := strings.CutPrefix(name, "heading"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 && n <= 6 {
			return n
		}
	}
	return -1
}

// readStyles learns which style IDs are headings, so documents written in
// other languages ("Überschrift1") are read correctly too.
func (p *docxParser) readStyles(b []byte) {
	var styles struct {
		Style []struct {
			ID   string `xml:"styleId,attr"`
			Name struct {
				Val string `xml:"val,attr"`
			} `xml:"name"`
			Outline *struct {
				Val string `xml:"val,attr"`
			} `xml:"pPr>outlineLvl"`
		} `xml:"style"`
	}
	if err := xml.Unmarshal(b, &styles); err != nil {
		return
	}
	for _, s := range styles.Style {
		level := nameLevel(s.Name.Val)
		if level < 0 && s.Outline != nil {
			if n, err := strconv.Atoi(s.Outline.Val); err == nil && n >= 0 && n < 6 {
				level = n + 1
			}
		}
		if level >= 0 {
			p.levels[s.ID] = level
		}
	}
}

// docxPara is the state of one w:p being read. Paragraphs nest when a text
// box sits inside a paragraph.
type docxPara struct {
	text     strings.Builder
	level    int // heading level, -1 for body text
	numbered bool
	inTable  bool
}

func (p *docxParser) readBody(ctx context.Context, b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	var (
		stack    []*docxPara // open paragraphs, innermost last
		runDepth int         // open w:r elements
		inText   bool        // inside w:t
		tables   int         // open w:tbl elements
		skip     int         // depth inside content to ignore (mc:Fallback)
		tokens   int
	)
	for {
		if tokens++; tokens%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return newError(ErrMalformed, "malformed docx", fmt.Errorf("parse word/document.xml: %w", err))
		}
		if skip > 0 {
			switch tok.(type) {
			case xml.StartElement:
				skip++
			case xml.EndElement:
				skip--
			}
			continue
		}
		var cur *docxPara
		if len(stack) > 0 {
			cur = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Fallback": // mc:Fallback repeats what mc:Choice holds
				skip = 1
			case "p":
				stack = append(stack, &docxPara{level: -1, inTable: tables > 0})
			case "pStyle":
				if cur != nil {
					cur.level = p.styleLevel(attr(t, "val"))
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(attr(t, "val")); err == nil && cur != nil && cur.level < 0 && n >= 0 && n < 6 {
					cur.level = n + 1
				}
			case "numPr":
				if cur != nil {
					cur.numbered = true
				}
			case "r":
				runDepth++
			case "t":
				inText = true
			case "tab":
				if cur != nil && runDepth > 0 {
					cur.text.WriteByte('\t')
				}
			case "br", "cr":
				if cur != nil && runDepth > 0 {
					cur.text.WriteByte('\n')
				}
			case "tbl":
				tables++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "p":
				if cur != nil {
					stack = stack[:len(stack)-1]
					p.emit(cur)
				}
			case "r":
				runDepth = max(runDepth-1, 0)
			case "t":
				inText = false
			case "tbl":
				tables = max(tables-1, 0)
			}
		case xml.CharData:
			if inText && cur != nil {
				cur.text.Write(t)
			}
		}
	}
	return nil
}

// emit turns a finished paragraph into a block.
func (p *docxParser) emit(para *docxPara) {
	text := strings.TrimSpace(CleanText(para.text.String()))
	if text == "" {
		return
	}
	if para.level >= 0 {
		title := collapseSpace(text)
		for len(p.path) > 0 && p.path[len(p.path)-1].level >= para.level {
			p.path = p.path[:len(p.path)-1]
		}
		p.path = append(p.path, mdHeading{level: para.level, text: title})
		if para.level <= 1 && p.doc.Title == "" {
			p.doc.Title = title
		}
		p.doc.Blocks = append(p.doc.Blocks, Block{Text: title, Kind: KindHeading, Headings: p.headings()})
		return
	}
	kind := KindParagraph
	switch {
	case para.inTable:
		kind = KindTable
	case para.numbered:
		kind = KindList
	}
	p.doc.Blocks = append(p.doc.Blocks, Block{Text: text, Kind: kind, Headings: p.headings()})
}

func (p *docxParser) headings() []string {
	if len(p.path) == 0 {
		return nil
	}
	out := make([]string, len(p.path))
	for i, h := range p.path {
		out[i] = h.text
	}
	return out
}

// attr returns the value of the attribute with the given local name.
func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
