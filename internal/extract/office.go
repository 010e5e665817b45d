package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
)

// openZip opens a zip-based document with the caps DOCX has: at most
// maxZipEntries entries, and a budget of inflated bytes (8x the size limit,
// at most 256 MiB) that readZipEntry charges.
func openZip(data []byte, limit int64, kind string) (*zip.Reader, *int64, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, newError(ErrMalformed, "malformed "+kind, fmt.Errorf("open zip: %w", err))
	}
	if len(zr.File) > maxZipEntries {
		return nil, nil, newError(ErrTooLarge, "decompression bomb",
			fmt.Errorf("%d zip entries exceeds the limit of %d", len(zr.File), maxZipEntries))
	}
	budget := min(inflateFactor*limit, maxInflated)
	return zr, &budget, nil
}

// zipEntry returns the entry called name, or nil.
func zipEntry(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// xmlParagraphs returns the text of an XML part's paragraphs, where para
// names the paragraph element, text the elements whose character data is
// text, and breaks the elements that stand for a line break. Paragraphs
// nest (a text box in a paragraph); the text of each is its own.
func xmlParagraphs(b []byte, para, text string, breaks ...string) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var out []string
	var stack []*strings.Builder
	inText := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == para:
				stack = append(stack, &strings.Builder{})
			case t.Name.Local == text:
				inText++
			case len(stack) > 0 && contains(breaks, t.Name.Local):
				stack[len(stack)-1].WriteByte('\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case para:
				if n := len(stack); n > 0 {
					if s := strings.TrimSpace(stack[n-1].String()); s != "" {
						out = append(out, s)
					}
					stack = stack[:n-1]
				}
			case text:
				inText = max(inText-1, 0)
			}
		case xml.CharData:
			if inText > 0 && len(stack) > 0 {
				stack[len(stack)-1].Write(t)
			}
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// extractPPTX reads a PowerPoint deck: one block per slide, in slide order,
// its paragraphs one per line, with the heading path "slide N", which a
// citation points to. Speaker notes are left out.
func extractPPTX(ctx context.Context, doc *Document, data []byte, limit int64) error {
	if bytes.HasPrefix(data, oleMagic) {
		return newError(ErrEncrypted, "encrypted pptx", nil)
	}
	zr, budget, err := openZip(data, limit, "pptx")
	if err != nil {
		return err
	}
	type slide struct {
		n int
		f *zip.File
	}
	var slides []slide
	for _, f := range zr.File {
		rest, ok := strings.CutPrefix(f.Name, "ppt/slides/slide")
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, ".xml")); ok && err == nil && strings.HasSuffix(rest, ".xml") {
			slides = append(slides, slide{n, f})
		}
	}
	if len(slides) == 0 {
		return newError(ErrMalformed, "malformed pptx", errors.New("no ppt/slides/slideN.xml"))
	}
	sort.Slice(slides, func(i, j int) bool { return slides[i].n < slides[j].n })
	if core := zipEntry(zr, "docProps/core.xml"); core != nil {
		if b, err := readZipEntry(core, budget); err == nil {
			doc.Title = coreTitle(b)
		} else if errors.Is(err, ErrTooLarge) {
			return err
		}
	}
	for i, s := range slides {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := readZipEntry(s.f, budget)
		if err != nil {
			return err
		}
		paras, err := xmlParagraphs(b, "p", "t", "br")
		if err != nil && len(paras) == 0 {
			continue
		}
		if len(paras) == 0 {
			continue
		}
		if doc.Title == "" {
			doc.Title = paras[0]
		}
		doc.Blocks = append(doc.Blocks, Block{Text: strings.Join(paras, "\n"), Kind: KindParagraph,
			Headings: []string{fmt.Sprintf("slide %d", i+1)}, Anchor: fmt.Sprintf("slide=%d", i+1)})
	}
	return nil
}

// extractODT reads an OpenDocument text (LibreOffice Writer) like a DOCX:
// text:h headings set the heading path by their outline level, text:p
// paragraphs are blocks, paragraphs in lists list blocks and in tables
// table blocks.
func extractODT(ctx context.Context, doc *Document, data []byte, limit int64) error {
	zr, budget, err := openZip(data, limit, "odt")
	if err != nil {
		return err
	}
	content := zipEntry(zr, "content.xml")
	if content == nil {
		if zipEntry(zr, "META-INF/manifest.xml") != nil && zipEntry(zr, "encrypted") != nil {
			return newError(ErrEncrypted, "encrypted odt", nil)
		}
		return newError(ErrMalformed, "malformed odt", errors.New("no content.xml"))
	}
	if meta := zipEntry(zr, "meta.xml"); meta != nil {
		if b, err := readZipEntry(meta, budget); err == nil {
			var m struct {
				Title string `xml:"meta>title"`
			}
			if xml.Unmarshal(b, &m) == nil {
				doc.Title = m.Title
			}
		} else if errors.Is(err, ErrTooLarge) {
			return err
		}
	}
	b, err := readZipEntry(content, budget)
	if err != nil {
		return err
	}
	if bytes.Contains(b[:min(len(b), 4096)], []byte("manifest:encryption-data")) {
		return newError(ErrEncrypted, "encrypted odt", nil)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var (
		path        []mdHeading
		cur         *strings.Builder
		level       int // of the heading being read, 0 for a paragraph
		lists, cell int
		n           int
	)
	headings := func() []string {
		if len(path) == 0 {
			return nil
		}
		out := make([]string, len(path))
		for i, h := range path {
			out[i] = h.text
		}
		return out
	}
	for {
		tok, err := d.Token()
		if err != nil {
			break // io.EOF, or damage: keep what came before
		}
		if n++; n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "h", "p":
				if cur != nil {
					continue // a paragraph inside a frame: read as part of its own
				}
				cur, level = &strings.Builder{}, 0
				if t.Name.Local == "h" {
					level = 1
					for _, a := range t.Attr {
						if a.Name.Local == "outline-level" {
							if l, err := strconv.Atoi(a.Value); err == nil && l >= 1 {
								level = l
							}
						}
					}
				}
			case "list":
				lists++
			case "table-cell":
				cell++
			case "s":
				if cur != nil {
					cur.WriteByte(' ')
				}
			case "tab":
				if cur != nil {
					cur.WriteByte('\t')
				}
			case "line-break":
				if cur != nil {
					cur.WriteByte('\n')
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "h", "p":
				if cur == nil {
					continue
				}
				text := strings.TrimSpace(cur.String())
				cur = nil
				if text == "" {
					continue
				}
				if level > 0 {
					title := collapseSpace(text)
					for len(path) > 0 && path[len(path)-1].level >= level {
						path = path[:len(path)-1]
					}
					path = append(path, mdHeading{level: level, text: title})
					if doc.Title == "" && level == 1 {
						doc.Title = title
					}
					doc.Blocks = append(doc.Blocks, Block{Text: title, Kind: KindHeading, Headings: headings()})
					continue
				}
				kind := KindParagraph
				switch {
				case cell > 0:
					kind = KindTable
				case lists > 0:
					kind = KindList
				}
				doc.Blocks = append(doc.Blocks, Block{Text: text, Kind: kind, Headings: headings()})
			case "list":
				lists = max(lists-1, 0)
			case "table-cell":
				cell = max(cell-1, 0)
			}
		case xml.CharData:
			if cur != nil {
				cur.Write(t)
			}
		}
	}
	return nil
}

// extractEPUB reads an EPUB's chapters in spine order, each as HTML (heading
// paths from its h1..h6). The title is the package's dc:title.
func extractEPUB(ctx context.Context, doc *Document, data []byte, limit int64) error {
	zr, budget, err := openZip(data, limit, "epub")
	if err != nil {
		return err
	}
	container := zipEntry(zr, "META-INF/container.xml")
	if container == nil {
		return newError(ErrMalformed, "malformed epub", errors.New("no META-INF/container.xml"))
	}
	if zipEntry(zr, "META-INF/encryption.xml") != nil {
		return newError(ErrEncrypted, "encrypted epub", nil)
	}
	b, err := readZipEntry(container, budget)
	if err != nil {
		return err
	}
	var c struct {
		Rootfiles []struct {
			Path string `xml:"full-path,attr"`
		} `xml:"rootfiles>rootfile"`
	}
	if err := xml.Unmarshal(b, &c); err != nil || len(c.Rootfiles) == 0 {
		return newError(ErrMalformed, "malformed epub", errors.New("no rootfile in container.xml"))
	}
	opfPath := c.Rootfiles[0].Path
	opf := zipEntry(zr, opfPath)
	if opf == nil {
		return newError(ErrMalformed, "malformed epub", fmt.Errorf("no %s", opfPath))
	}
	if b, err = readZipEntry(opf, budget); err != nil {
		return err
	}
	var pkg struct {
		Title []string `xml:"metadata>title"`
		Items []struct {
			ID   string `xml:"id,attr"`
			Href string `xml:"href,attr"`
		} `xml:"manifest>item"`
		Spine []struct {
			IDRef string `xml:"idref,attr"`
		} `xml:"spine>itemref"`
	}
	if err := xml.Unmarshal(b, &pkg); err != nil {
		return newError(ErrMalformed, "malformed epub", fmt.Errorf("read %s: %w", opfPath, err))
	}
	if len(pkg.Title) > 0 {
		doc.Title = pkg.Title[0]
	}
	hrefs := map[string]string{}
	for _, it := range pkg.Items {
		hrefs[it.ID] = it.Href
	}
	dir := path.Dir(opfPath)
	for _, ref := range pkg.Spine {
		if err := ctx.Err(); err != nil {
			return err
		}
		href, ok := hrefs[ref.IDRef]
		if !ok {
			continue
		}
		if u, err := url.PathUnescape(href); err == nil {
			href = u
		}
		f := zipEntry(zr, path.Join(dir, href))
		if f == nil {
			continue
		}
		b, err := readZipEntry(f, budget)
		if err != nil {
			return err
		}
		ch := &Document{}
		if err := extractHTML(ctx, ch, b); err != nil {
			continue
		}
		doc.Blocks = append(doc.Blocks, ch.Blocks...)
	}
	return nil
}
