package extract

import (
	"context"
	"strings"
)

// ctxEvery is how many lines or blocks an extractor handles between checks of
// its context.
const ctxEvery = 4096

// extractText cuts plain text into blank-line-separated paragraphs. A single
// huge line stays one block; the chunker splits it.
func extractText(ctx context.Context, doc *Document, data []byte, kind Kind) error {
	src, enc, err := decodeText(data)
	if err != nil {
		return err
	}
	doc.Encoding = enc
	return textBlocks(ctx, doc, src, kind)
}

// textBlocks adds a block of the given kind for every blank-line-separated
// paragraph of src.
func textBlocks(ctx context.Context, doc *Document, src string, kind Kind) error {
	x := newLineIndex(src)
	start := 0 // first line of the paragraph being read, 0 when between paragraphs
	for n := 1; n <= x.count(); n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if blank(x.line(n)) {
			if start > 0 {
				doc.Blocks = append(doc.Blocks, lineBlock(x, start, n-1, kind))
				start = 0
			}
			continue
		}
		if start == 0 {
			start = n
		}
	}
	if start > 0 {
		doc.Blocks = append(doc.Blocks, lineBlock(x, start, x.count(), kind))
	}
	return nil
}

// extractCode cuts source code into regions at blank lines that separate
// top-level constructs: a blank line followed by a line that starts at
// column 0 and does not merely close a bracket. Blank lines inside an
// indented body keep the body whole.
func extractCode(ctx context.Context, doc *Document, data []byte) error {
	src, enc, err := decodeText(data)
	if err != nil {
		return err
	}
	doc.Encoding = enc
	x := newLineIndex(src)
	start, last := 0, 0 // first and last non-blank line of the current region
	for n := 1; n <= x.count(); n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line := x.line(n)
		if blank(line) {
			continue
		}
		if start > 0 && last < n-1 && startsTopLevel(line) {
			doc.Blocks = append(doc.Blocks, lineBlock(x, start, last, KindCode))
			start = 0
		}
		if start == 0 {
			start = n
		}
		last = n
	}
	if start > 0 {
		doc.Blocks = append(doc.Blocks, lineBlock(x, start, last, KindCode))
	}
	return nil
}

// startsTopLevel reports whether a source line begins a new top-level region.
func startsTopLevel(line string) bool {
	switch line[0] {
	case ' ', '\t', '}', ')', ']':
		return false
	}
	return !strings.HasPrefix(line, "end") // Ruby, Lua, Elixir blocks
}

// lineBlock returns the block of lines from through to.
func lineBlock(x *lineIndex, from, to int, kind Kind) Block {
	return Block{Text: x.slice(from, to), Kind: kind, StartLine: from, EndLine: to}
}
