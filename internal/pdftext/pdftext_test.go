package pdftext

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// buildPDF returns a PDF whose object i+1 is objs[i], with a correct xref
// table. trailer is added to the trailer dictionary.
func buildPDF(objs []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailer, xref)
	return b.Bytes()
}

func stream(content string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
}

// font is Helvetica with every glyph 500 units wide, so a glyph at size 12
// advances 6 points and test positions are easy to compute.
var font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" +
	strings.Repeat("500 ", 95) + "] >>"

// onePage returns a one-page PDF drawing content with font F1.
func onePage(content string) []byte {
	return pages([]string{content}, "")
}

// pages returns a PDF with one page per content stream.
func pages(contents []string, trailer string) []byte {
	n := len(contents)
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", font}
	var kids []string
	for _, c := range contents {
		page := len(objs) + 1
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", page+1),
			stream(c))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	return buildPDF(objs, trailer)
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.pdf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// text draws s at (x, y) in 12 pt.
func text(x, y float64, s string) string {
	return fmt.Sprintf("BT /F1 12 Tf %g %g Td (%s) Tj ET\n", x, y, s)
}

func TestExtractLayout(t *testing.T) {
	var twoCols, perGlyph strings.Builder
	for i := 0; i < 12; i++ {
		y := 700 - 14*float64(i)
		// 40 glyphs of 6 pt: columns 72..312 and 330..570.
		twoCols.WriteString(text(72, y, fmt.Sprintf("left%02d aaaaaa bbbbbb cccccc dddddd eeeeee", i)))
		twoCols.WriteString(text(330, y, fmt.Sprintf("right%02d aaaaa bbbbbb cccccc dddddd eeeeee", i)))
	}
	for i, c := range "Hello" {
		perGlyph.WriteString(text(72+6*float64(i), 700, string(c)))
	}
	perGlyph.WriteString(text(72+6*5+4, 700, "world"))

	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"words placed apart get a space", text(72, 700, "Hello") + text(108, 700, "World"), "Hello World"},
		{"per-glyph runs are rejoined", perGlyph.String(), "Hello world"},
		{"small TJ kerning keeps the word", "BT /F1 12 Tf 72 700 Td [(Hel) 30 (lo) -40 (you)] TJ ET", "Helloyou"},
		{"large TJ gap is a space", "BT /F1 12 Tf 72 700 Td [(Hello) -400 (you)] TJ ET", "Hello you"},
		{"lines top to bottom", text(72, 600, "second") + text(72, 614, "first"), "first\nsecond"},
		{"runs left to right", text(120, 700, "right") + text(72, 700, "left"), "left right"},
		{"superscript stays on its line", text(72, 700, "x") + "BT /F1 8 Tf 78 704 Td (2) Tj ET\n" + text(90, 700, "y"), "x2 y"},
		{"paragraph gap is a blank line", text(72, 700, "one") + text(72, 686, "two") + text(72, 672, "three") + text(72, 630, "four"), "one\ntwo\nthree\n\nfour"},
		{"hyphenated word is rejoined", text(72, 700, "an exam-") + text(72, 686, "ple here"), "an example\nhere"},
		{"explicit spaces are kept", text(72, 700, "a b  c"), "a b c"},
		{"fake bold is drawn once", text(72, 700, "Bold") + text(72.3, 700, "Bold"), "Bold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, onePage(tt.content)))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Pages) != 1 || res.Pages[0] != tt.want {
				t.Errorf("got %q, want %q", res.Pages, tt.want)
			}
		})
	}

	t.Run("two columns are read left then right", func(t *testing.T) {
		res, err := Extract(context.Background(), writeTemp(t, onePage(twoCols.String())))
		if err != nil {
			t.Fatal(err)
		}
		got := res.Pages[0]
		if !strings.Contains(got, "left11 aaaaaa bbbbbb cccccc dddddd eeeeee\nright00") {
			t.Errorf("left column does not precede right column:\n%s", got)
		}
		if strings.Index(got, "left11") > strings.Index(got, "right00") {
			t.Errorf("interleaved columns:\n%s", got)
		}
	})

	t.Run("table rows stay rows", func(t *testing.T) {
		var tbl strings.Builder
		for i := 0; i < 10; i++ {
			y := 700 - 14*float64(i)
			tbl.WriteString(text(72, y, "Austria") + text(200, y, "8.9") + text(330, y, "Vienna") + text(460, y, "German"))
		}
		res, err := Extract(context.Background(), writeTemp(t, onePage(tbl.String())))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Pages[0], "Austria 8.9 Vienna German\nAustria") {
			t.Errorf("table read by columns:\n%s", res.Pages[0])
		}
	})
}

func TestExtractFormXObject(t *testing.T) {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> /XObject << /X1 6 0 R >> >> /Contents 5 0 R >>",
		font,
		stream(text(72, 700, "page") + "q 1 0 0 1 0 -20 cm /X1 Do Q"),
		"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Length 36 >>\nstream\nBT /F1 12 Tf 72 700 Td (form) Tj ET\nendstream",
	}
	res, err := Extract(context.Background(), writeTemp(t, buildPDF(objs, "")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Pages[0], "page\nform"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExtractDocument(t *testing.T) {
	t.Run("title and empty page", func(t *testing.T) {
		objs := []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
			"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R >>",
			font,
			"<< /Type /Page /Parent 2 0 R /Resources << >> /Contents 7 0 R >>",
			stream(text(72, 700, "text")),
			stream("0 0 100 100 re f"),
			"<< /Title (A \\(small\\) title) >>",
		}
		res, err := Extract(context.Background(), writeTemp(t, buildPDF(objs, "/Info 8 0 R")))
		if err != nil {
			t.Fatal(err)
		}
		if res.Title != "A (small) title" {
			t.Errorf("title %q", res.Title)
		}
		if len(res.Pages) != 2 || res.Pages[0] != "text" || res.Pages[1] != "" {
			t.Errorf("pages %q", res.Pages)
		}
	})
	t.Run("cyclic page tree and absurd count terminate", func(t *testing.T) {
		objs := []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R 2 0 R 2 0 R] /Count 2000000000 >>",
			"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
			font,
			stream(text(72, 700, "once")),
		}
		res, err := Extract(context.Background(), writeTemp(t, buildPDF(objs, "")))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Pages) != 1 || res.Pages[0] != "once" {
			t.Errorf("pages %q", res.Pages)
		}
	})
}

func TestExtractErrors(t *testing.T) {
	garbage := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /DW 1000 >>] >>",
		stream("BT /F1 12 Tf 72 700 Td <0003000400050006000700080009000A000B> Tj ET"),
	}
	encrypted := buildPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
		"<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 /O <" + strings.Repeat("11", 32) + "> /U <" + strings.Repeat("22", 32) + "> >>",
	}, "/Encrypt 3 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]")
	valid := onePage(text(72, 700, "hello"))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"scanned page has no text", onePage("q 100 0 0 100 0 0 cm 0 0 1 1 re f Q"), ErrNoText},
		{"undecodable font is garbage", buildPDF(garbage, ""), ErrNoText},
		{"wrong password", encrypted, ErrEncrypted},
		{"not a pdf", []byte("hello world, not a pdf at all"), ErrMalformed},
		{"truncated", valid[:len(valid)/2], ErrMalformed},
		{"empty file", nil, ErrMalformed},
		{"no pages", buildPDF([]string{"<< /Type /Catalog >>"}, ""), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", res, err, tt.want)
			}
		})
	}
}

func TestExtractContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, writeTemp(t, onePage(text(72, 700, "x"))))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestExtractMissingFile(t *testing.T) {
	_, err := Extract(context.Background(), filepath.Join(t.TempDir(), "missing.pdf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want os.ErrNotExist", err)
	}
}

func TestIsGarbage(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Hello world, this is text.", false},
		{"1", false},
		{"", false},
		{"\uFFFD\uFFFD\uFFFD ab", true},
		{"\uE001\uE002\uE003\uE004", true},
		{"\x01\x02\x03\x04 a", true},
		{"—·•••···", true},
		{"Straße – 12 €", false},
		{"حَبيبي", false},
	}
	for _, tt := range tests {
		if got := isGarbage(tt.in); got != tt.want {
			t.Errorf("isGarbage(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzExtract guards the whole pipeline against panics on hostile input.
func FuzzExtract(f *testing.F) {
	f.Add(onePage(text(72, 700, "seed")))
	f.Add([]byte("%PDF-1.4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		p := filepath.Join(t.TempDir(), "f.pdf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Extract(context.Background(), p)
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}

func TestExtractHostileStructure(t *testing.T) {
	valid := onePage(text(72, 700, "hello"))
	selfPrev := func() []byte {
		// Point the trailer's /Prev at its own xref section.
		i := bytes.LastIndex(valid, []byte("startxref\n"))
		off := strings.TrimSpace(strings.Split(string(valid[i+10:]), "\n")[0])
		return bytes.Replace(valid, []byte("/Root 1 0 R"), []byte("/Root 1 0 R /Prev "+off), 1)
	}()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"pdf 2.0 header is accepted", bytes.Replace(valid, []byte("%PDF-1.4"), []byte("%PDF-2.0"), 1), nil},
		{"header with trailing space", bytes.Replace(valid, []byte("%PDF-1.4\n"), []byte("%PDF-1.4 "), 1), nil},
		// The library never sees the hostile cross-reference data: the
		// precheck refuses it and the rebuilt table replaces it.
		{"xref prev loop", selfPrev, nil},
		{"huge xref subsection", bytes.Replace(valid, []byte("xref\n0 "), []byte("xref\n4000000000 "), 1), nil},
		{"huge size", bytes.Replace(valid, []byte("/Size "), []byte("/Size 9999999999 /X "), 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v; want %v", err, tt.want)
			}
			if tt.want == nil && res.Pages[0] != "hello" {
				t.Errorf("pages %q", res.Pages)
			}
		})
	}
}

// TestExtractRepairsCrossReferences guards the repair of files whose
// cross-reference data is wrong or missing, generated from a valid two-page
// file: each is read with its text, and Repair says so.
func TestExtractRepairsCrossReferences(t *testing.T) {
	valid := pages([]string{text(72, 700, "first page"), text(72, 700, "second page")}, "/Info 8 0 R")
	valid = bytes.Replace(valid, []byte("xref\n"), []byte("8 0 obj\n<< /Title (Repaired) >>\nendobj\nxref\n"), 1)
	valid = fixStartxref(valid)
	xref := bytes.LastIndex(valid, []byte("xref\n0 "))
	startxref := bytes.LastIndex(valid, []byte("startxref"))
	objStm := objectStreamPDF(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"wrong startxref offset", bytes.Replace(valid, valid[startxref:], []byte("startxref\n123\n%%EOF\n"), 1)},
		{"startxref past the end", bytes.Replace(valid, valid[startxref:], []byte("startxref\n999999\n%%EOF\n"), 1)},
		{"wrong object offsets", bytes.Replace(valid, []byte("0000000015 00000 n"), []byte("0000099999 00000 n"), 1)},
		{"truncated tail", valid[:xref+20]},
		{"missing xref table", append(append([]byte{}, valid[:xref]...), valid[bytes.Index(valid, []byte("trailer")):]...)},
		{"no xref, trailer or startxref", valid[:xref]},
		{"junk before the header", append([]byte("garbage from a mail gateway\r\n"), valid...)},
		{"object stream without its xref stream", objStm},
		{"object without endobj", bytes.Replace(valid, []byte(">>\nendobj\n3 0 obj"), []byte(">>\n\n3 0 obj"), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if res.Repair != RepairXref {
				t.Errorf("Repair = %q, want %q", res.Repair, RepairXref)
			}
			want := []string{"first page", "second page"}
			if tt.name == "object stream without its xref stream" {
				want = []string{"in a stream"}
			}
			if !reflect.DeepEqual(res.Pages, want) {
				t.Errorf("pages %q, want %q", res.Pages, want)
			}
		})
	}
	t.Run("a valid file is not repaired", func(t *testing.T) {
		res, err := Extract(context.Background(), writeTemp(t, valid))
		if err != nil || res.Repair != "" {
			t.Fatalf("got %+v, %v; want no repair", res, err)
		}
	})
}

// TestExtractRewritesStreams guards the streams repair decodes and writes
// again because the library cannot read them: filters it lacks, predictors
// other than PNG "up", inline images its lexer trips on.
func TestExtractRewritesStreams(t *testing.T) {
	content := text(72, 700, "decoded text")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(content))
	zw.Close()
	withStream := func(dict string, data []byte) []byte {
		objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R] /Count 1 >>", font,
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
			fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)}
		return buildPDF(objs, "")
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"ascii hex", withStream("/Filter /ASCIIHexDecode", []byte(hexOf([]byte(content))+">"))},
		{"predictor 1", withStream("/Filter /FlateDecode /DecodeParms << /Predictor 1 >>", z.Bytes())},
		{"inline image", withStream("", []byte("q BI /W 2 /H 1 /BPC 8 /CS /G ID \\+\xff) EI Q\n"+content))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Extract(context.Background(), writeTemp(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Pages, []string{"decoded text"}) || res.Repair != RepairXref {
				t.Errorf("got %q, repair %q", res.Pages, res.Repair)
			}
		})
	}
}

// fixStartxref points data's startxref at its last xref table.
func fixStartxref(data []byte) []byte {
	xref := bytes.LastIndex(data, []byte("xref\n0 "))
	i := bytes.LastIndex(data, []byte("startxref\n"))
	return append(data[:i:i], fmt.Sprintf("startxref\n%d\n%%%%EOF\n", xref)...)
}

// objectStreamPDF is a PDF 1.5 file whose catalog, page tree and page live
// in a Flate-compressed object stream, with its cross-reference stream
// missing: only the object stream's own offset table says where they are.
func objectStreamPDF(t *testing.T) []byte {
	t.Helper()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
	}
	ids := []int{1, 2, 4}
	var head, body strings.Builder
	for i, o := range objs {
		fmt.Fprintf(&head, "%d %d ", ids[i], body.Len())
		body.WriteString(o + "\n")
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(head.String() + body.String()))
	zw.Close()
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	fmt.Fprintf(&b, "3 0 obj\n%s\nendobj\n", font)
	fmt.Fprintf(&b, "5 0 obj\n%s\nendobj\n", stream(text(72, 700, "in a stream")))
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /ObjStm /N 3 /First %d /Filter /FlateDecode /Length %d >>\nstream\n", head.Len(), z.Len())
	b.Write(z.Bytes())
	b.WriteString("\nendstream\nendobj\nstartxref\n999\n%%EOF\n")
	return b.Bytes()
}

// TestExtractSaysWhatItFound guards the reasons given for files that
// cannot be repaired: what the reader found, not just "malformed".
func TestExtractSaysWhatItFound(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"not a pdf", "hello world, not a pdf at all", "malformed pdf: no %PDF- header"},
		{"no objects", "%PDF-1.4\nxref\n0 1\ntrailer\n<< >>\nstartxref\n9\n%%EOF\n", "malformed pdf: broken cross-reference table at byte 9"},
		{"objects but no catalog", "%PDF-1.4\n1 0 obj\n<< /A 1 >>\nendobj\nstartxref\n5000\n%%EOF\n", "malformed pdf: startxref points past the end of the file (byte 5000 of 56)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(context.Background(), writeTemp(t, []byte(tt.data)))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start %q", err, tt.want)
			}
		})
	}
}
