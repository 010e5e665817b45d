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

// makeDOCX builds a .docx in memory from file names and contents.
func makeDOCX(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "docProps/core.xml", "word/styles.xml", "word/document.xml"} {
		content, ok := files[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"`

func wordDocument(body string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document ` + wordNS + `><w:body>` + body + `</w:body></w:document>`
}

func para(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

func TestDOCX(t *testing.T) {
	body := para("Title", "Annual Report") +
		para("Heading1", "Summary") +
		`<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>` +
		`<w:r><w:t>Revenue</w:t></w:r><w:r><w:tab/><w:t>grew.</w:t><w:br/><w:t>Costs fell.</w:t></w:r></w:p>` +
		para("berschrift2", "Details") +
		`<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>first item</w:t></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + para("", "cell text") + `</w:tc></w:tr></w:tbl>` +
		`<w:p><w:r><w:t>box: </w:t></w:r><w:r><mc:AlternateContent><mc:Choice><w:txbxContent>` + para("", "in a text box") +
		`</w:txbxContent></mc:Choice><mc:Fallback><w:txbxContent>` + para("", "in a text box") + `</w:txbxContent></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:p><w:r><w:delText>deleted</w:delText><w:t>kept</w:t></w:r></w:p>` +
		para("", "") +
		para("Heading1", "Next") +
		para("", "end")
	styles := `<?xml version="1.0"?><w:styles ` + wordNS + `>
<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style>
</w:styles>`
	core := `<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Report 2025</dc:title></cp:coreProperties>`
	data := makeDOCX(t, map[string]string{
		"word/document.xml": wordDocument(body),
		"word/styles.xml":   styles,
		"docProps/core.xml": core,
	})
	doc, err := Bytes(context.Background(), "report.docx", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type block struct {
		Text     string
		Kind     Kind
		Headings []string
	}
	want := []block{
		{"Annual Report", KindHeading, []string{"Annual Report"}},
		{"Summary", KindHeading, []string{"Annual Report", "Summary"}},
		{"Revenue\tgrew.\nCosts fell.", KindParagraph, []string{"Annual Report", "Summary"}},
		{"Details", KindHeading, []string{"Annual Report", "Summary", "Details"}},
		{"first item", KindList, []string{"Annual Report", "Summary", "Details"}},
		{"cell text", KindTable, []string{"Annual Report", "Summary", "Details"}},
		{"in a text box", KindParagraph, []string{"Annual Report", "Summary", "Details"}},
		{"box:", KindParagraph, []string{"Annual Report", "Summary", "Details"}},
		{"kept", KindParagraph, []string{"Annual Report", "Summary", "Details"}},
		{"Next", KindHeading, []string{"Annual Report", "Next"}},
		{"end", KindParagraph, []string{"Annual Report", "Next"}},
	}
	var got []block
	for _, b := range doc.Blocks {
		got = append(got, block{b.Text, b.Kind, b.Headings})
		if b.StartLine != 0 || b.EndLine != 0 || b.Page != 0 {
			t.Errorf("block %q has a position %d-%d page %d", b.Text, b.StartLine, b.EndLine, b.Page)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", got, want)
	}
	if doc.Title != "Report 2025" || doc.Format != FormatDOCX {
		t.Errorf("Title, Format = %q, %q; want the core.xml title and docx", doc.Title, doc.Format)
	}
}

func TestDOCXErrors(t *testing.T) {
	ctx := context.Background()
	bigXML := wordDocument(para("", strings.Repeat("a", 1<<20)))
	tests := []struct {
		name   string
		data   []byte
		opts   Options
		want   error
		reason string
	}{
		{
			name:   "no document part",
			data:   makeDOCX(t, map[string]string{"[Content_Types].xml": "<Types/>"}),
			want:   ErrMalformed,
			reason: "malformed docx",
		},
		{
			name:   "broken xml",
			data:   makeDOCX(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}),
			want:   ErrMalformed,
			reason: "malformed docx",
		},
		{
			name:   "no text",
			data:   makeDOCX(t, map[string]string{"word/document.xml": wordDocument(para("", " "))}),
			want:   ErrNoText,
			reason: "no text",
		},
		{
			// 1 MiB of text compresses to a few KiB; 8x a 64 KiB limit is 512 KiB.
			name:   "decompression bomb",
			data:   makeDOCX(t, map[string]string{"word/document.xml": bigXML}),
			opts:   Options{MaxBytes: 64 << 10},
			want:   ErrTooLarge,
			reason: "decompression bomb",
		},
		{
			name:   "encrypted",
			data:   append([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}, make([]byte, 504)...),
			want:   ErrEncrypted,
			reason: "encrypted docx",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(ctx, "x.docx", tt.data, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Bytes() = %v, %v; want %v", doc, err, tt.want)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason() = %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestDOCXBombLyingHeader guards against a zip whose headers understate the
// inflated size: the cap must count the bytes that come out.
func TestDOCXBombLyingHeader(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "word/document.xml",
		Method:             zip.Deflate,
		UncompressedSize64: 10, // a lie
	})
	if err != nil {
		t.Fatal(err)
	}
	// Compress 4 MiB of zeros by hand with a second writer.
	var raw bytes.Buffer
	inner := zip.NewWriter(&raw)
	iw, _ := inner.Create("x")
	iw.Write(make([]byte, 4<<20))
	inner.Close()
	zr, err := zip.NewReader(bytes.NewReader(raw.Bytes()), int64(raw.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	var compressed bytes.Buffer
	compressed.ReadFrom(rc)
	w.Write(compressed.Bytes())
	zw.Close()

	// archive/zip itself stops at the declared size; either way the entry
	// must be refused, not read.
	_, err = Bytes(context.Background(), "bomb.docx", buf.Bytes(), Options{MaxBytes: 128 << 10})
	if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) {
		t.Errorf("Bytes() error = %v, want ErrTooLarge or ErrMalformed", err)
	}
}

func TestDOCXTooManyEntries(t *testing.T) {
	files := map[string]string{"word/document.xml": wordDocument(para("", "x"))}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range maxZipEntries + 1 {
		if _, err := zw.Create(fmt.Sprintf("junk/%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create("word/document.xml")
	w.Write([]byte(files["word/document.xml"]))
	zw.Close()
	_, err := Bytes(context.Background(), "many.docx", buf.Bytes(), Options{})
	if !errors.Is(err, ErrTooLarge) || Reason(err) != "decompression bomb" {
		t.Errorf("Bytes() error = %v, want a decompression bomb", err)
	}
}
