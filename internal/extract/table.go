package extract

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Bounds on tables (CSV, TSV), so that a huge sheet costs bounded memory
// and time: cells are cut, later rows and columns are left out.
const (
	maxTableRows  = 100_000 // rows read from one table
	maxTableCols  = 256     // columns kept per row
	maxCellBytes  = 1024    // bytes kept per cell
	maxHeaderCell = 64      // bytes kept of a header used as a label
)

// extractTable reads CSV (or TSV when sep is a tab) as one block per row,
// each line of it "header: value", so that a row found by search says what
// its numbers are. Its heading path ends with "row N", N being the row's
// 1-based number in the file (the header is row 1), which a citation points
// to; StartLine and EndLine are the row's lines in the file. Rows past
// maxTableRows are left out.
func extractTable(ctx context.Context, doc *Document, data []byte, sep rune) error {
	src, enc, err := decodeText(data)
	if err != nil {
		return err
	}
	doc.Encoding = enc
	r := csv.NewReader(strings.NewReader(src))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	var header []string
	for row := 1; row <= maxTableRows; row++ {
		if row%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(doc.Blocks) == 0 && header == nil {
				return newError(ErrMalformed, "malformed table", err)
			}
			break // keep the rows before the damage
		}
		start, _ := r.FieldPos(0)
		end := start + strings.Count(strings.Join(rec, ""), "\n")
		anchor := fmt.Sprintf("row=%d", row)
		hs := []string{fmt.Sprintf("row %d", row)}
		if header == nil {
			header = tableHeader(rec)
			doc.Blocks = append(doc.Blocks, Block{Text: joinHeader(header), Kind: KindTable,
				Headings: hs, StartLine: start, EndLine: end, Anchor: anchor})
			continue
		}
		if text := tableRow(header, rec); text != "" {
			doc.Blocks = append(doc.Blocks, Block{Text: text, Kind: KindTable,
				Headings: hs, StartLine: start, EndLine: end, Anchor: anchor})
		}
		if row == maxTableRows {
			if _, err := r.Read(); !errors.Is(err, io.EOF) {
				doc.Capped = fmt.Sprintf("capped at %d rows", maxTableRows)
			}
		}
	}
	if doc.Title == "" {
		doc.Title = fileTitle(doc.Path)
	}
	return nil
}

// tableHeader returns a table's header row as labels: at most maxTableCols,
// each cut to maxHeaderCell bytes on one line.
func tableHeader(rec []string) []string {
	header := make([]string, 0, min(len(rec), maxTableCols))
	for _, h := range rec[:min(len(rec), maxTableCols)] {
		header = append(header, cut(collapseSpace(h), maxHeaderCell))
	}
	return header
}

func joinHeader(header []string) string { return strings.Join(header, " | ") }

// tableRow renders one row as "header: value" lines, one per non-empty
// cell among the first maxTableCols, each cut to maxCellBytes; a cell
// without a header is labelled "column N". It is "" for an empty row.
func tableRow(header, rec []string) string {
	var b strings.Builder
	for i, v := range rec[:min(len(rec), maxTableCols)] {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		label := fmt.Sprintf("column %d", i+1)
		if i < len(header) && header[i] != "" {
			label = header[i]
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(label + ": " + strings.ReplaceAll(cut(v, maxCellBytes), "\n", " "))
	}
	return b.String()
}

// fragmentEscape escapes a name for a citation fragment such as
// "sheet=NAME&row=N": spaces as %20, '&', '=' and '#' escaped.
func fragmentEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// cut shortens s to at most n bytes, at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// looksTabular reports whether data's first line has sep in it: a .csv that
// holds prose is read as text.
func looksTabular(data []byte, sep byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return bytes.IndexByte(first, sep) >= 0
}
