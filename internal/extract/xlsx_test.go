package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// makeXLSX writes a workbook with excelize: each sheet's rows from row 1
// on, a nil row left empty. The first sheet replaces excelize's "Sheet1".
func makeXLSX(t testing.TB, title string, sheets map[string][][]any, order ...string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, row := range sheets[name] {
			if row == nil {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := f.SetSheetRow(name, cell, &row); err != nil {
				t.Fatal(err)
			}
		}
	}
	if title != "" {
		if err := f.SetDocProps(&excelize.DocProperties{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type anchoredBlock struct {
	Text     string
	Headings []string
	Anchor   string
}

func anchoredBlocks(doc *Document) []anchoredBlock {
	var out []anchoredBlock
	for _, b := range doc.Blocks {
		out = append(out, anchoredBlock{b.Text, b.Headings, b.Anchor})
	}
	return out
}

// TestXLSX is the golden of XLSX on a workbook generated here: sheets in
// workbook order, rows as "header: value" lines under the sheet's first
// non-empty row, empty rows and cells left out, each row citing
// sheet=NAME&row=N (the name escaped) with N its number in the sheet.
func TestXLSX(t *testing.T) {
	data := makeXLSX(t, "Colony counts", map[string][][]any{
		"Q1 sales": {
			nil,
			{"region", "count", "animal"},
			{"north", 12, "seals"},
			nil,
			{"south", 40, "penguins"},
			{"", "", ""},
			{"east", nil, "terns, arctic"},
		},
		"Notes & more": {
			{"note"},
			{"counted by hand"},
		},
	}, "Q1 sales", "Notes & more")
	doc, err := Bytes(context.Background(), "colony.xlsx", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Format != FormatXLSX || doc.Title != "Colony counts" || doc.Capped != "" {
		t.Errorf("Format %q, Title %q, Capped %q", doc.Format, doc.Title, doc.Capped)
	}
	want := []anchoredBlock{
		{"region | count | animal", []string{"Q1 sales", "row 2"}, "sheet=Q1%20sales&row=2"},
		{"region: north\ncount: 12\nanimal: seals", []string{"Q1 sales", "row 3"}, "sheet=Q1%20sales&row=3"},
		{"region: south\ncount: 40\nanimal: penguins", []string{"Q1 sales", "row 5"}, "sheet=Q1%20sales&row=5"},
		{"region: east\nanimal: terns, arctic", []string{"Q1 sales", "row 7"}, "sheet=Q1%20sales&row=7"},
		{"note", []string{"Notes & more", "row 1"}, "sheet=Notes%20%26%20more&row=1"},
		{"note: counted by hand", []string{"Notes & more", "row 2"}, "sheet=Notes%20%26%20more&row=2"},
	}
	if got := anchoredBlocks(doc); !reflect.DeepEqual(got, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", got, want)
	}
	for _, b := range doc.Blocks {
		if b.Kind != KindTable {
			t.Errorf("block %q has kind %v, want KindTable", b.Text, b.Kind)
		}
	}
}

// TestAnchors: every format whose blocks lines cannot locate gives each
// block the fragment a citation points to.
func TestAnchors(t *testing.T) {
	tests := []struct {
		path string
		data []byte
		want []string
	}{
		{"deck.pptx", makeZip(t, "ppt/slides/slide2.xml", pptxSlide("Results"), "ppt/slides/slide1.xml", pptxSlide("Title")),
			[]string{"slide=1", "slide=2"}},
		{"sales.csv", []byte("a,b\n1,2\n\n3,4\n"), []string{"row=1", "row=2", "row=3"}},
		{"n.ipynb", []byte(`{"cells":[{"cell_type":"markdown","source":"# H\n\ntext"},{"cell_type":"code","source":"x = 1"}]}`),
			[]string{"cell=1", "cell=1", "cell=2"}},
		{"notes.md", []byte("# Title\n\ntext\n"), []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, tt.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range doc.Blocks {
				got = append(got, b.Anchor)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("anchors %q, want %q", got, tt.want)
			}
		})
	}
}

// hugeXLSX writes, straight through archive/zip, a workbook of one sheet
// with a header and rows data rows: a few MiB on disk that inflate to about
// 40 bytes a row.
func hugeXLSX(t testing.TB, rows int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	put("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`)
	put("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	put("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="big" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	fmt.Fprintf(w, `<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>%s</t></is></c></row>`, strings.Repeat("h", 5000))
	var row []byte
	for i := 2; i <= rows+1; i++ {
		n := strconv.Itoa(i)
		row = append(row[:0], `<row r="`...)
		row = append(row, n...)
		row = append(row, `"><c r="A`...)
		row = append(row, n...)
		row = append(row, `"><v>`...)
		row = append(row, n...)
		row = append(row, `</v></c></row>`...)
		w.Write(row)
	}
	fmt.Fprintf(w, `</sheetData></worksheet>`)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHugeSheetIsBounded guards the bounds on XLSX: a sheet of a million
// rows is streamed, read up to maxTableRows rows, and the document says it
// was capped; in the sandboxed child under a 512 MiB address-space limit
// (less than the sheet would take held in memory as excelize's rows), it
// still succeeds.
func TestHugeSheetIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-row sheet")
	}
	rows := 1_000_000
	if raceEnabled {
		rows = maxTableRows + 1000 // past the cap still; the race detector makes a million slow
	}
	data := hugeXLSX(t, rows)
	path := filepath.Join(t.TempDir(), "huge.xlsx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, doc *Document, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if n := len(doc.Blocks); n != maxTableRows {
			t.Errorf("%d blocks, want %d (the header and %d rows)", n, maxTableRows, maxTableRows-1)
		}
		if doc.Capped != "capped at 100000 rows" || !strings.Contains(ReadNote(doc), "capped at 100000 rows") {
			t.Errorf("Capped %q, ReadNote %q: the report must say the sheet was capped", doc.Capped, ReadNote(doc))
		}
		if n := len(doc.Blocks[0].Text); n > 2*maxHeaderCell+len(" | ") {
			t.Errorf("a 5000-byte header cell became %d bytes", n)
		}
		if last := doc.Blocks[len(doc.Blocks)-1]; last.Anchor != "sheet=big&row=100000" {
			t.Errorf("last block cites %q, want sheet=big&row=100000", last.Anchor)
		}
	}
	t.Run("in process", func(t *testing.T) {
		doc, err := File(context.Background(), path, Options{})
		check(t, doc, err)
	})
	t.Run("sandboxed", func(t *testing.T) {
		if raceEnabled {
			t.Skip("the race detector's shadow memory does not fit under the memory limit")
		}
		lim := DefaultLimits
		lim.MemoryBytes = 512 << 20
		doc, err := File(context.Background(), path, Options{Sandbox: testSandbox(t, "extract", lim)})
		check(t, doc, err)
	})
}

// TestXLSXRefused: an encrypted workbook (an OLE file) is "encrypted xlsx",
// a zip without a workbook malformed. (Its zip bombs are in
// TestOfficeZipCaps.)
func TestXLSXRefused(t *testing.T) {
	_, err := Bytes(context.Background(), "locked.xlsx", append(append([]byte{}, oleMagic...), make([]byte, 512)...), Options{})
	if !errors.Is(err, ErrEncrypted) || Reason(err) != "encrypted xlsx" {
		t.Errorf("err %v, want encrypted xlsx", err)
	}
	_, err = Bytes(context.Background(), "junk.xlsx", makeZip(t, "a.txt", "not a workbook"), Options{})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("err %v, want malformed", err)
	}
}

func FuzzXLSX(f *testing.F) {
	f.Add(makeXLSX(f, "", map[string][][]any{"S": {{"a", "b"}, {1, 2}}}, "S"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.xlsx", data) })
}
