package pdftext

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestExtractRepairsDamagedObjects guards the repairs found on the shared
// corpus's damaged files that neither the library nor pdftotext read: an
// object whose "N G obj" header is damaged or names another number (qpdf's
// bad25-bad32: the cross-reference table says where it is), the catalog
// written as object 0 (issue-99b), a catalog whose page tree is not in the
// file (unreadablemetadata.pdf: the pages are found by their /Type), and
// content compressed with Brotli (Brotli-Prototype-FileA.pdf).
func TestExtractRepairsDamagedObjects(t *testing.T) {
	valid := pages([]string{text(72, 700, "first page"), text(72, 700, "second page")}, "")
	tree := regexpFind(t, valid, "2 0 obj\n<< /Type /Pages [^\n]*>>\nendobj\n")
	br := func(s string) []byte {
		var b bytes.Buffer
		w := brotli.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	content := br(text(72, 700, "first page"))
	brotliPDF := buildPDF([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 2 >>", font,
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
		fmt.Sprintf("<< /Filter /BrotliDecode /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 7 0 R >>",
		stream(text(72, 700, "second page"))}, "")
	tests := []struct {
		name string
		data []byte
	}{
		{"object header x 0 obj", bytes.Replace(valid, []byte("5 0 obj"), []byte("x 0 obj"), 1)},
		{"object header 5 x obj", bytes.Replace(valid, []byte("5 0 obj"), []byte("5 x obj"), 1)},
		{"object header 5 0 xbj", bytes.Replace(valid, []byte("5 0 obj"), []byte("5 0 xbj"), 1)},
		{"object header naming another number", bytes.Replace(valid, []byte("5 0 obj"), []byte("9 0 obj"), 1)},
		{"catalog as object 0", bytes.Replace(valid, []byte("1 0 obj\n<< /Type /Catalog"), []byte("0 0 obj\n<< /Type /Catalog"), 1)},
		{"page tree missing", bytes.Replace(valid, tree, bytes.Repeat([]byte(" "), len(tree)), 1)},
		{"brotli content stream", brotliPDF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"first page", "second page"}; !reflect.DeepEqual(res.Pages, want) || res.Repair != RepairXref {
				t.Errorf("pages %q, repair %q; want %q, repaired", res.Pages, res.Repair, want)
			}
		})
	}
}

func regexpFind(t *testing.T, data []byte, re string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte("2 0 obj\n"))
	j := bytes.Index(data[i:], []byte("endobj\n"))
	if i < 0 || j < 0 {
		t.Fatalf("no match for %s", re)
	}
	return data[i : i+j+len("endobj\n")]
}

// TestExtractCJKCMaps: a Type0 font without /ToUnicode whose /Encoding is
// a predefined CJK CMap (its codes being the bytes of Shift-JIS, EUC-JP,
// JIS, GBK, Big5, EUC-KR or UCS-2) is decoded from those bytes, as the
// pdf.js noembed-* files need; pdftotext without poppler-data reads none.
func TestExtractCJKCMaps(t *testing.T) {
	tests := []struct{ cmap, hex, want string }{
		{"90ms-RKSJ-H", "93FA967B8CEA", "日本語"},
		{"EUC-H", "C6FCCBDCB8EC", "日本語"},
		{"H", "467C4B5C386C", "日本語"},
		{"GBK-EUC-H", "D6D0CEC4", "中文"},
		{"ETen-B5-H", "A4A4A4E5", "中文"},
		{"KSCms-UHC-H", "C7D1B1B9", "한국"},
		{"UniJIS-UCS2-H", "65E5672C", "日本"},
		{"90ms-RKSJ-H", "41426393FA", "ABc日"}, // one-byte ASCII codes among two-byte ones
	}
	for _, tt := range tests {
		t.Run(tt.cmap, func(t *testing.T) {
			objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
				"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Gothic /Encoding /" + tt.cmap + " /DescendantFonts [6 0 R] >>",
				"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
				stream("BT /F1 24 Tf 72 700 Td <" + tt.hex + "> Tj ET"),
				"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /MS-Gothic /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /DW 1000 >>"}
			res, err := Extract(context.Background(), writeTemp(t, buildPDF(objs, "")))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(strings.Join(res.Pages, ""), " ", ""); got != tt.want {
				t.Errorf("text %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLexClean: what the library's lexer rejects in a content stream is
// mended (Test-plusminus.pdf's "\ " escape, a stray '>'), and nothing else
// changes: strings, hex strings, dictionaries and comments are kept.
func TestLexClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{`BT (a\ b) Tj ET`, `BT (a b) Tj ET`},
		{`BT (x) Tj > ET`, `BT (x) Tj  ET`},
		{`[(Grandes) 0.0 Tc -250 (Clients)] TJ`, `[(Grandes) 0.0  -250 (Clients)] TJ`},
		{`[true null /Name 1] TJ`, ""},
		{`(nested (paren\)) \n\101) Tj <414243> Tj << /A 1 >> BDC % a > comment` + "\nET", ""},
	}
	for _, tt := range tests {
		got, changed := lexClean([]byte(tt.in))
		want := tt.want
		if want == "" {
			want = tt.in
		}
		if string(got) != want || changed != (tt.want != "") {
			t.Errorf("lexClean(%q) = %q, %v; want %q", tt.in, got, changed, want)
		}
	}
	res, err := Extract(context.Background(), writeTemp(t, onePage(`BT /F1 12 Tf 72 700 Td (plus\ minus) Tj ET`)))
	if err != nil || !reflect.DeepEqual(res.Pages, []string{"plus minus"}) {
		t.Errorf("a string with an invalid escape: %+v, %v", res, err)
	}
	// operator-in-TJ-array.pdf: operators in a TJ array, in a content
	// stream without /Length.
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R] /Count 1 >>", font,
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
		"<< >>\nstream\nBT /F1 12 Tf 72 700 Td [(Grandes) 0.0 Tc -250.0 ( Clients) 0.0 Tc] TJ ET\nendstream"}
	res, err = Extract(context.Background(), writeTemp(t, buildPDF(objs, "")))
	if err != nil || !reflect.DeepEqual(res.Pages, []string{"Grandes Clients"}) {
		t.Errorf("operators in a TJ array: %+v, %v", res, err)
	}
}

// TestExtractAnnotationText: the text an annotation shows in its
// appearance stream (a FreeText comment, a filled-in field, as in pdf.js's
// bug1851498.pdf) is the page's text, as viewers and pdftotext draw it;
// a hidden annotation's is not.
func TestExtractAnnotationText(t *testing.T) {
	ap := func(s string) string {
		return fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /Font << /F1 3 0 R >> >> /Length %d >>\nstream\n%s\nendstream",
			len(s)+len("BT /F1 12 Tf 2 5 Td () Tj ET"), "BT /F1 12 Tf 2 5 Td ("+s+") Tj ET")
	}
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R] /Count 1 >>", font,
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Annots [5 0 R 7 0 R] >>",
		"<< /Type /Annot /Subtype /FreeText /Rect [100 700 200 720] /AP << /N 6 0 R >> >>", ap("Hello World"),
		"<< /Type /Annot /Subtype /FreeText /F 2 /Rect [100 600 200 620] /AP << /N 8 0 R >> >>", ap("hidden note")}
	res, err := Extract(context.Background(), writeTemp(t, buildPDF(objs, "")))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Pages, []string{"Hello World"}) {
		t.Errorf("pages %q, want the FreeText annotation's text alone", res.Pages)
	}
}
