package chunk

import (
	"bytes"
	"testing"

	"github.com/ragcli/rag/internal/extract"
)

// FuzzSplit builds a document from the fuzz bytes, cut into blocks at 0x00
// bytes (the byte after each cut picks the kind and the heading path), and
// checks Split's invariants and Resplit's on every chunk.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("# Title\x00\x01Hello world. This is text.\x00\x02func main() {\n\treturn\n}"), uint16(64), uint8(8))
	f.Add([]byte("野口里佳。Noguchi Rika！\x00\x03| a | b |\n|---|---|"), uint16(100), uint8(0))
	f.Add(bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"), 20), uint16(70), uint8(30))
	f.Add([]byte("\xff\xfe\xe2\x82 \xf0\x9f\x99\x82\U0001F642 x"), uint16(64), uint8(16))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, data []byte, maxTokens uint16, overlap uint8) {
	if len(data) > 4096 {
		data = data[:4096] // longer inputs find nothing new and slow minimizing
	}
	budget := int(maxTokens%600) + MinTokens
	doc := &extract.Document{Title: "Fuzz title"}
	line := 1
	var hs []string
	for i, part := range bytes.Split(data, []byte{0}) {
		k := extract.KindParagraph
		page := 0
		if i > 0 && len(part) > 0 {
			sel := part[0]
			part = part[1:]
			k = extract.Kind(sel % 5)
			page = int(sel>>6) % 3
			switch sel >> 3 & 3 {
			case 1:
				hs = []string{"H1"}
			case 2:
				// at most 6 deep: deeper paths only make this harness quadratic
				hs = append(hs[max(0, len(hs)-5):len(hs):len(hs)], string(part[:min(len(part), 40)]))
			case 3:
				hs = nil
			}
		}
		text := string(part)
		n := bytes.Count(part, []byte{'\n'})
		doc.Blocks = append(doc.Blocks, extract.Block{Text: text, Kind: k, Headings: hs, StartLine: line, EndLine: line + n, Page: page})
		line += n + 1
	}
	cs := Split(doc, Options{MaxTokens: budget, Overlap: int(overlap)})
	checkChunks(t, doc.Title, texts(doc), budget, cs)
	for i, c := range cs {
		if c.StartLine < 1 || c.EndLine >= line {
			t.Fatalf("chunk lines %d-%d outside 1-%d", c.StartLine, c.EndLine, line-1)
		}
		if i >= 3 {
			continue // Resplit a few, to keep the target fast
		}
		smaller := MinTokens + (budget-MinTokens)/2
		rs := Resplit(c, doc.Title, smaller)
		checkChunks(t, doc.Title, []string{c.Text}, smaller, rs)
		for _, r := range rs {
			if r.StartLine < c.StartLine || r.EndLine > c.EndLine {
				t.Fatalf("resplit lines %d-%d outside %d-%d", r.StartLine, r.EndLine, c.StartLine, c.EndLine)
			}
		}
	}
}
