package extract

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// formatBlock is what the format tests compare of a block.
type formatBlock struct {
	Text       string
	Kind       Kind
	Headings   []string
	Start, End int
}

func formatBlocks(doc *Document) []formatBlock {
	var out []formatBlock
	for _, b := range doc.Blocks {
		out = append(out, formatBlock{b.Text, b.Kind, b.Headings, b.StartLine, b.EndLine})
	}
	return out
}

// TestFormats holds the goldens of the formats added for tables, notebooks
// and email, on fixtures written here: the blocks, their provenance (the
// row, cell or part a citation points to) and the title.
func TestFormats(t *testing.T) {
	notebook := `{"metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "cells": [
 {"cell_type": "markdown", "source": ["# Loading data\n", "\n", "We read the CSV."]},
 {"cell_type": "code", "source": "import pandas as pd\ndf = pd.read_csv('x.csv')", "outputs": [{"output_type": "stream", "text": ["SECRET OUTPUT"]}]},
 {"cell_type": "raw", "source": "raw text is left out"},
 {"cell_type": "markdown", "source": "## Plotting"},
 {"cell_type": "code", "source": ["df.plot()"], "outputs": []}
]}`
	email := "From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>\r\n" +
		"To: team@example.com\r\n" +
		"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n" +
		"Subject: Quarterly numbers\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n" +
		"--YY\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Hello team,\r\n\r\nthe numbers are attached. Caf=E9 at 3.\r\n" +
		"--YY\r\nContent-Type: text/html\r\n\r\n<p>HTML twin, left out</p>\r\n--YY--\r\n" +
		"--XX\r\nContent-Type: application/pdf; name=\"q3.pdf\"\r\nContent-Disposition: attachment; filename=\"q3.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
	tests := []struct {
		name, path, input string
		format            Format
		title             string
		want              []formatBlock
	}{
		{
			name: "csv rows as header: value lines", path: "sales.csv",
			input:  "region,q1,\"notes, free\"\nnorth,10,\"two\nlines\"\nsouth,,x\n",
			format: FormatTable, title: "sales",
			want: []formatBlock{
				{"region | q1 | notes, free", KindTable, []string{"row 1"}, 1, 1},
				{"region: north\nq1: 10\nnotes, free: two lines", KindTable, []string{"row 2"}, 2, 3},
				{"region: south\nnotes, free: x", KindTable, []string{"row 3"}, 4, 4},
			},
		},
		{
			name: "tsv", path: "a.tsv", input: "name\tage\nada\t36\n",
			format: FormatTable, title: "a",
			want: []formatBlock{
				{"name | age", KindTable, []string{"row 1"}, 1, 1},
				{"name: ada\nage: 36", KindTable, []string{"row 2"}, 2, 2},
			},
		},
		{
			name: "a csv without separators is text", path: "notes.csv", input: "just a line\n",
			format: FormatText, title: "",
			want: []formatBlock{{"just a line", KindTable, nil, 1, 1}},
		},
		{
			name: "notebook cells without outputs", path: "analysis.ipynb", input: notebook,
			format: FormatNotebook, title: "Loading data",
			want: []formatBlock{
				{"Loading data", KindHeading, []string{"Loading data", "cell 1"}, 0, 0},
				{"We read the CSV.", KindParagraph, []string{"Loading data", "cell 1"}, 0, 0},
				{"import pandas as pd\ndf = pd.read_csv('x.csv')", KindCode, []string{"Loading data", "cell 2"}, 0, 0},
				{"Plotting", KindHeading, []string{"Loading data", "Plotting", "cell 4"}, 0, 0},
				{"df.plot()", KindCode, []string{"Loading data", "Plotting", "cell 5"}, 0, 0},
			},
		},
		{
			name: "email headers, text part, attachments named", path: "mail.eml", input: email,
			format: FormatEmail, title: "Quarterly numbers",
			want: []formatBlock{
				{"From: Renée <renee@example.com>\nTo: team@example.com\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nSubject: Quarterly numbers", KindParagraph, []string{"headers"}, 0, 0},
				{"Hello team,", KindParagraph, nil, 0, 0},
				{"the numbers are attached. Café at 3.", KindParagraph, nil, 0, 0},
				{"Attachments: q3.pdf", KindParagraph, []string{"attachments"}, 0, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(tt.input), doc)
			if doc.Format != tt.format || doc.Title != tt.title {
				t.Errorf("Format %q, Title %q; want %q, %q", doc.Format, doc.Title, tt.format, tt.title)
			}
			if got := formatBlocks(doc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
			if strings.Contains(fmt.Sprint(doc.Blocks), "SECRET OUTPUT") || strings.Contains(fmt.Sprint(doc.Blocks), "left out") {
				t.Errorf("outputs, raw cells or the HTML twin leaked into the blocks")
			}
		})
	}
}

// TestHugeTableIsBounded guards the bounds on tables: a sheet of a million
// rows with huge cells is read up to maxTableRows rows, cells cut to
// maxCellBytes.
func TestHugeTableIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,text\n")
	big := strings.Repeat("x", 5000)
	for i := range 1_000_000 {
		if i == 0 {
			fmt.Fprintf(&b, "%d,%s\n", i, big)
			continue
		}
		fmt.Fprintf(&b, "%d,y\n", i)
	}
	doc, err := Bytes(context.Background(), "huge.csv", []byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Blocks); n != maxTableRows {
		t.Errorf("%d blocks, want %d (the header and %d rows)", n, maxTableRows, maxTableRows-1)
	}
	if n := len(doc.Blocks[1].Text); n > maxCellBytes+len("text: …")+len("id: 0\n") {
		t.Errorf("a 5000-byte cell became %d bytes", n)
	}
}

func TestFormatErrors(t *testing.T) {
	tests := []struct {
		name, path, input string
		want              error
	}{
		{"notebook that is not JSON", "a.ipynb", "{not json", ErrMalformed},
		{"notebook without cells", "a.ipynb", `{"cells": []}`, ErrNoText},
		{"email without a blank line after headers", "a.eml", "no header here", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Bytes(context.Background(), tt.path, []byte(tt.input), Options{})
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte("a,b\n1,\"2\n3\"\n"))
	f.Add([]byte("x\t\"y\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.csv", data) })
}

func FuzzNotebook(f *testing.F) {
	f.Add([]byte(`{"cells":[{"cell_type":"markdown","source":["# a\n","b"]},{"cell_type":"code","source":"x"}]}`))
	f.Add([]byte(`{"worksheets":[{"cells":[{"cell_type":"code","input":["y"]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.ipynb", data) })
}

func FuzzEmail(f *testing.F) {
	f.Add([]byte("Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b--\r\n"))
	f.Add([]byte("From: a\n\nplain body\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.eml", data) })
}
