package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxXMLInMemory is the size past which excelize unzips a worksheet or the
// shared-strings table to a temporary file and streams it from there,
// instead of holding it in memory.
const xlsxXMLInMemory = 16 << 20

// extractXLSX reads an Excel workbook through excelize: its sheets in
// workbook order, each row one block of "header: value" lines like CSV, the
// header being the sheet's first non-empty row. A row's heading path is the
// sheet's name and "row N" (N its 1-based number in the sheet), and its
// anchor "sheet=NAME&row=N", which a citation points to.
//
// The caps are those of every zip-based format (openZip), checked on the
// sizes the zip declares before excelize inflates anything (archive/zip
// refuses an entry that inflates past its declared size), and those of CSV:
// rows are streamed with excelize's Rows iterator, at most maxTableRows in
// all, maxTableCols columns and maxCellBytes per cell; doc.Capped says when
// rows were left out.
func extractXLSX(ctx context.Context, doc *Document, data []byte, limit int64) error {
	if bytes.HasPrefix(data, oleMagic) {
		return newError(ErrEncrypted, "encrypted xlsx", nil)
	}
	zr, budget, err := openZip(data, limit, "xlsx")
	if err != nil {
		return err
	}
	var declared uint64
	for _, f := range zr.File {
		declared += f.UncompressedSize64
	}
	if declared > uint64(*budget) {
		return newError(ErrTooLarge, "decompression bomb",
			fmt.Errorf("entries inflate to %d bytes, past the limit of %d", declared, *budget))
	}
	wb, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    *budget,
		UnzipXMLSizeLimit: min(*budget, xlsxXMLInMemory),
	})
	if err != nil {
		if errors.Is(err, excelize.ErrWorkbookPassword) {
			return newError(ErrEncrypted, "encrypted xlsx", nil)
		}
		return newError(ErrMalformed, "malformed xlsx", err)
	}
	defer wb.Close() // removes the temporary files of large sheets
	if title, err := wb.GetDocProps(); err == nil && title != nil {
		doc.Title = title.Title
	}
	if doc.Title == "" {
		doc.Title = fileTitle(doc.Path)
	}
	read := 0 // rows read (empty ones too) across sheets, against maxTableRows
	for _, sheet := range wb.GetSheetList() {
		n, err := xlsxSheet(ctx, doc, wb, sheet, maxTableRows-read)
		read += n
		if err != nil {
			return err
		}
		if read >= maxTableRows {
			doc.Capped = fmt.Sprintf("capped at %d rows", maxTableRows)
			break
		}
	}
	return nil
}

// xlsxSheet appends the blocks of one sheet's rows, reading at most budget
// rows, and returns how many it read.
func xlsxSheet(ctx context.Context, doc *Document, wb *excelize.File, sheet string, budget int) (int, error) {
	rows, err := wb.Rows(sheet)
	if err != nil {
		return 0, newError(ErrMalformed, "malformed xlsx", fmt.Errorf("sheet %q: %w", sheet, err))
	}
	defer rows.Close()
	var header []string
	n := 0
	for n < budget && rows.Next() {
		n++
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		cells, err := rows.Columns()
		if err != nil {
			return n, newError(ErrMalformed, "malformed xlsx", fmt.Errorf("sheet %q row %d: %w", sheet, n, err))
		}
		hs := []string{sheet, fmt.Sprintf("row %d", n)}
		anchor := "sheet=" + fragmentEscape(sheet) + fmt.Sprintf("&row=%d", n)
		if header == nil {
			if blankRow(cells) {
				continue
			}
			header = tableHeader(cells)
			doc.Blocks = append(doc.Blocks, Block{Text: joinHeader(header), Kind: KindTable, Headings: hs, Anchor: anchor})
			continue
		}
		if text := tableRow(header, cells); text != "" {
			doc.Blocks = append(doc.Blocks, Block{Text: text, Kind: KindTable, Headings: hs, Anchor: anchor})
		}
	}
	if err := rows.Error(); err != nil {
		return n, newError(ErrMalformed, "malformed xlsx", fmt.Errorf("sheet %q: %w", sheet, err))
	}
	return n, nil
}

func blankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
