package cli_test

import (
	"archive/zip"
	"encoding/csv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/extract/extracttest"
	"github.com/xuri/excelize/v2"
)

func init() {
	registerCmd("zipdir", cmdZipDir)
	registerCmd("csv2xlsx", cmdCSV2XLSX)
	registerCmd("onlypath", cmdOnlyPath)
	registerCmd("scanpdf", cmdScanPDF)
	extraConds["ocr"] = func() bool { return extract.MissingOCRTool() == nil }
}

// cmdScanPDF writes a PDF whose pages are text, or with "scan:" before
// the text only an image of it: scanpdf FILE PAGE... (a page's lines are
// separated by "|").
func cmdScanPDF(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: scanpdf FILE PAGE...")
	}
	var pages []extracttest.ScanPage
	for _, a := range args[1:] {
		text, scan := strings.CutPrefix(a, "scan:")
		pages = append(pages, extracttest.ScanPage{Text: strings.ReplaceAll(text, "|", "\n"), Scan: scan})
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), extracttest.ScanPDF(pages...), 0o644))
}

// cmdOnlyPath sets PATH to a folder of the script's and the folder holding
// rag itself, so that a script controls which optional programs (pdftotext,
// tesseract) rag finds: onlypath DIR.
func cmdOnlyPath(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: onlypath DIR")
	}
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "rag")); err == nil {
			ts.Setenv("PATH", ts.MkAbs(args[0])+string(filepath.ListSeparator)+dir)
			return
		}
	}
	ts.Fatalf("rag not found on PATH")
}

// cmdZipDir zips a folder's files, named relative to it, into a file:
// zipdir DIR FILE. Scripts build PPTX, ODT or EPUB fixtures with it.
func cmdZipDir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zipdir DIR FILE")
	}
	dir := ts.MkAbs(args[0])
	out, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	zw := zip.NewWriter(out)
	ts.Check(filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}))
	ts.Check(zw.Close())
	ts.Check(out.Close())
}

// cmdCSV2XLSX writes a CSV file's rows into a one-sheet workbook with
// excelize: csv2xlsx CSV SHEET FILE. Cells that are integers are stored as
// numbers.
func cmdCSV2XLSX(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: csv2xlsx CSV SHEET FILE")
	}
	in, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer in.Close()
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	ts.Check(err)
	f := excelize.NewFile()
	defer f.Close()
	ts.Check(f.SetSheetName("Sheet1", args[1]))
	for i, rec := range recs {
		row := make([]any, len(rec))
		for j, v := range rec {
			row[j] = v
			if n, err := strconv.Atoi(v); err == nil {
				row[j] = n
			}
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		ts.Check(err)
		ts.Check(f.SetSheetRow(args[1], cell, &row))
	}
	ts.Check(f.SaveAs(ts.MkAbs(args[2])))
}
