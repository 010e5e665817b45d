package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// makeZip writes the named entries, in the order given (name, content,
// name, content...).
func makeZip(t testing.TB, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		w, err := zw.Create(entries[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(entries[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const drawingNS = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`

func pptxSlide(paras ...string) string {
	var b strings.Builder
	b.WriteString(`<p:sld ` + drawingNS + `><p:cSld><p:spTree><p:sp><p:txBody>`)
	for _, p := range paras {
		b.WriteString(`<a:p><a:r><a:t>` + p + `</a:t></a:r></a:p>`)
	}
	b.WriteString(`</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`)
	return b.String()
}

const odtNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"`

func epub(t testing.TB, chapters ...string) []byte {
	entries := []string{
		"mimetype", "application/epub+zip",
		"META-INF/container.xml", `<container><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`,
	}
	var items, spine strings.Builder
	for i := len(chapters) - 1; i >= 0; i-- { // manifest order is not reading order
		fmt.Fprintf(&items, `<item id="c%d" href="text/ch%%20%d.xhtml" media-type="application/xhtml+xml"/>`, i, i)
	}
	for i := range chapters {
		fmt.Fprintf(&spine, `<itemref idref="c%d"/>`, i)
		entries = append(entries, fmt.Sprintf("OEBPS/text/ch %d.xhtml", i), "<html><body>"+chapters[i]+"</body></html>")
	}
	entries = append(entries, "OEBPS/content.opf", `<package xmlns:dc="http://purl.org/dc/elements/1.1/"><metadata><dc:title>The Book</dc:title></metadata><manifest>`+
		items.String()+`</manifest><spine>`+spine.String()+`</spine></package>`)
	return makeZip(t, entries...)
}

// TestOfficeFormats holds the goldens of PPTX, ODT and EPUB on fixtures
// generated here: blocks, provenance ("slide N", heading paths) and title.
func TestOfficeFormats(t *testing.T) {
	tests := []struct {
		name, path string
		data       []byte
		title      string
		want       []formatBlock
	}{
		{
			name: "pptx: one block per slide, in slide order", path: "deck.pptx",
			data: makeZip(t,
				"ppt/slides/slide10.xml", pptxSlide("Ten"),
				"ppt/slides/slide2.xml", pptxSlide("Results", "Penguins up 40%"),
				"ppt/slides/slide1.xml", pptxSlide("Quarterly review"),
				"ppt/notesSlides/notesSlide1.xml", pptxSlide("speaker notes stay out")),
			title: "Quarterly review",
			want: []formatBlock{
				{"Quarterly review", KindParagraph, []string{"slide 1"}, 0, 0},
				{"Results\nPenguins up 40%", KindParagraph, []string{"slide 2"}, 0, 0},
				{"Ten", KindParagraph, []string{"slide 3"}, 0, 0},
			},
		},
		{
			name: "odt like docx", path: "report.odt",
			data: makeZip(t,
				"mimetype", "application/vnd.oasis.opendocument.text",
				"meta.xml", `<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>Field report</dc:title></office:meta></office:document-meta>`,
				"content.xml", `<office:document-content `+odtNS+`><office:body><office:text>`+
					`<text:h text:outline-level="1">Colony</text:h>`+
					`<text:p>The colony<text:s/>breeds<text:tab/>on ice.</text:p>`+
					`<text:h text:outline-level="2">Counts</text:h>`+
					`<text:list><text:list-item><text:p>north: 12</text:p></text:list-item></text:list>`+
					`<table:table><table:table-row><table:table-cell><text:p>cell</text:p></table:table-cell></table:table-row></table:table>`+
					`<text:h text:outline-level="1">Method</text:h><text:p>Counted by hand.</text:p>`+
					`</office:text></office:body></office:document-content>`),
			title: "Field report",
			want: []formatBlock{
				{"Colony", KindHeading, []string{"Colony"}, 0, 0},
				{"The colony breeds\ton ice.", KindParagraph, []string{"Colony"}, 0, 0},
				{"Counts", KindHeading, []string{"Colony", "Counts"}, 0, 0},
				{"north: 12", KindList, []string{"Colony", "Counts"}, 0, 0},
				{"cell", KindTable, []string{"Colony", "Counts"}, 0, 0},
				{"Method", KindHeading, []string{"Method"}, 0, 0},
				{"Counted by hand.", KindParagraph, []string{"Method"}, 0, 0},
			},
		},
		{
			name: "epub chapters in spine order", path: "book.epub",
			data:  epub(t, "<h1>Chapter One</h1><p>It began on the ice.</p>", "<h1>Chapter Two</h1><h2>Winter</h2><p>It grew cold.</p>"),
			title: "The Book",
			want: []formatBlock{
				{"Chapter One", KindHeading, []string{"Chapter One"}, 0, 0},
				{"It began on the ice.", KindParagraph, []string{"Chapter One"}, 0, 0},
				{"Chapter Two", KindHeading, []string{"Chapter Two"}, 0, 0},
				{"Winter", KindHeading, []string{"Chapter Two", "Winter"}, 0, 0},
				{"It grew cold.", KindParagraph, []string{"Chapter Two", "Winter"}, 0, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if doc.Title != tt.title {
				t.Errorf("Title %q, want %q", doc.Title, tt.title)
			}
			if got := formatBlocks(doc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestOfficeZipCaps guards every zip-based format with the caps of DOCX: a
// zip bomb (an entry inflating past 8x the size limit) and a zip of too many
// entries are "decompression bomb", never an out-of-memory.
func TestOfficeZipCaps(t *testing.T) {
	big := strings.Repeat("<a:p><a:r><a:t>aaaaaaaaaaaaaaaa</a:t></a:r></a:p>", 40000) // ~2 MiB, compresses to KiB
	bombs := map[string][]byte{
		"deck.pptx":  makeZip(t, "ppt/slides/slide1.xml", `<p:sld `+drawingNS+`>`+big+`</p:sld>`),
		"report.odt": makeZip(t, "content.xml", `<office:document-content `+odtNS+`>`+big+`</office:document-content>`),
		"book.epub":  epub(t, "<p>"+big+"</p>"),
		"sheet.xlsx": makeZip(t, "xl/worksheets/sheet1.xml", `<worksheet><sheetData>`+big+`</sheetData></worksheet>`),
	}
	for name, data := range bombs {
		t.Run(name+" bomb", func(t *testing.T) {
			_, err := Bytes(context.Background(), name, data, Options{MaxBytes: 64 << 10})
			if !errors.Is(err, ErrTooLarge) || Reason(err) != "decompression bomb" {
				t.Errorf("err %v, want a decompression bomb", err)
			}
		})
		t.Run(name+" too many entries", func(t *testing.T) {
			entries := make([]string, 0, 2*(maxZipEntries+1))
			for i := range maxZipEntries + 1 {
				entries = append(entries, fmt.Sprintf("junk/%d", i), "")
			}
			_, err := Bytes(context.Background(), name, makeZip(t, entries...), Options{})
			if !errors.Is(err, ErrTooLarge) || Reason(err) != "decompression bomb" {
				t.Errorf("err %v, want a decompression bomb", err)
			}
		})
	}
}

func FuzzPPTX(f *testing.F) {
	f.Add(makeZip(f, "ppt/slides/slide1.xml", pptxSlide("x")))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.pptx", data) })
}

func FuzzODT(f *testing.F) {
	f.Add(makeZip(f, "content.xml", `<office:document-content `+odtNS+`><text:h>h</text:h><text:p>p</text:p></office:document-content>`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.odt", data) })
}

func FuzzEPUB(f *testing.F) {
	f.Add(epub(f, "<h1>a</h1><p>b</p>"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.epub", data) })
}
