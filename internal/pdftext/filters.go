package pdftext

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/andybalholm/brotli"
)

// The library decodes only FlateDecode (with PNG "up" prediction) and
// ASCII85Decode; decodeStream adds ASCIIHex, LZW, RunLength, Brotli and
// every PNG and TIFF predictor. When a file fails for that reason, repair rewrites the
// streams it cannot read: it decodes them here and writes them unfiltered,
// as a later definition of the same object. Only text matters, so image
// filters (DCT, JPX, JBIG2, CCITT) are left alone.

// maxDecoded caps what one stream may decode to.
const maxDecoded = 32 << 20

var errFilter = errors.New("unsupported filter")

var (
	filterNamesRE = regexp.MustCompile(`/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)`)
	nameRE        = regexp.MustCompile(`/([A-Za-z0-9]+)`)
	predictorRE   = regexp.MustCompile(`/Predictor\s+(\d+)`)
	columnsRE     = regexp.MustCompile(`/Columns\s+(\d+)`)
	colorsRE      = regexp.MustCompile(`/Colors\s+(\d+)`)
	bitsRE        = regexp.MustCompile(`/BitsPerComponent\s+(\d+)`)
	earlyRE       = regexp.MustCompile(`/EarlyChange\s+(\d+)`)
	lengthRE      = regexp.MustCompile(`/Length\s+(\d+)(\s+\d+\s+R)?`)
	inlineImageRE = regexp.MustCompile(`(?s)(^|[\s])BI[\s/].*?[\s]ID[\s].*?[\s]EI([\s]|$)`)
)

// filters returns the filter names of a stream dictionary, outermost
// first.
func filters(dict []byte) []string {
	m := filterNamesRE.FindSubmatch(dict)
	if m == nil {
		return nil
	}
	var out []string
	for _, n := range nameRE.FindAllSubmatch(m[1], -1) {
		out = append(out, string(n[1]))
	}
	return out
}

// needsRewrite reports whether the library cannot decode a stream with this
// dictionary but decodeStream can.
func needsRewrite(dict []byte) bool {
	fs := filters(dict)
	for _, f := range fs {
		switch f {
		case "DCTDecode", "DCT", "JPXDecode", "JBIG2Decode", "CCITTFaxDecode", "CCF":
			return false // an image: no text in it
		}
	}
	for _, f := range fs {
		switch f {
		case "FlateDecode", "Fl":
			if p := predictor(dict); p != 0 && p != 12 {
				return true // the library knows only PNG "up" prediction
			}
		case "ASCII85Decode":
		default:
			return true
		}
	}
	return len(fs) > 1 && predictor(dict) > 1
}

// predictor is the stream's /Predictor, 0 when it names none.
func predictor(dict []byte) int {
	return intKey(predictorRE, dict, 0)
}

func intKey(re *regexp.Regexp, dict []byte, def int) int {
	if m := re.FindSubmatch(dict); m != nil {
		if n, err := strconv.Atoi(string(m[1])); err == nil {
			return n
		}
	}
	return def
}

// decodeStream decodes raw through the filters dict names. DecodeParms are
// read from dict as a whole, which is right for the one-filter streams
// that matter here.
func decodeStream(dict, raw []byte) ([]byte, error) {
	data := raw
	for _, f := range filters(dict) {
		var r io.Reader = bytes.NewReader(data)
		switch f {
		case "FlateDecode", "Fl":
			zr, err := zlib.NewReader(r)
			if err != nil {
				return nil, err
			}
			r = zr
		case "ASCII85Decode", "A85":
			if i := bytes.Index(data, []byte("~>")); i >= 0 {
				data = data[:i]
			}
			r = ascii85.NewDecoder(bytes.NewReader(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("<~"))))
		case "ASCIIHexDecode", "AHx":
			out, err := asciiHex(data)
			if err != nil {
				return nil, err
			}
			r = bytes.NewReader(out)
		case "LZWDecode", "LZW":
			// Damaged LZW data keeps what decoded before the damage, as
			// pdf.js does.
			out, err := lzwDecode(data, intKey(earlyRE, dict, 1) == 1)
			if err != nil && len(out) == 0 {
				return nil, err
			}
			r = bytes.NewReader(out)
		case "RunLengthDecode", "RL":
			r = bytes.NewReader(runLength(data))
		case "BrotliDecode", "Br":
			// The filter PDF 2.0 is adding (ISO/TS 32004 draft); pdf.js
			// reads it.
			r = brotli.NewReader(bytes.NewReader(data))
		default:
			return nil, fmt.Errorf("%w %s", errFilter, f)
		}
		out, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
		if len(out) > maxDecoded {
			return nil, fmt.Errorf("stream decodes to more than %d bytes", maxDecoded)
		}
		if err != nil && len(out) == 0 {
			return nil, err
		}
		if f != "ASCIIHexDecode" && f != "AHx" && f != "ASCII85Decode" && f != "A85" && f != "RunLengthDecode" && f != "RL" {
			if out, err = unpredict(dict, out); err != nil {
				return nil, err
			}
		}
		data = out
	}
	return data, nil
}

func asciiHex(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)/2)
	var hi byte
	half := false
	for _, c := range data {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case c == '>':
			if half {
				out = append(out, hi<<4)
			}
			return out, nil
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0:
			continue
		default:
			return nil, fmt.Errorf("bad hex digit %q", c)
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out, nil
}

// lzwDecode decodes PDF's LZW: MSB-first codes of 9 to 12 bits, 256 clears
// the table, 257 ends the data, and with early change the code width grows
// one code early.
func lzwDecode(data []byte, early bool) ([]byte, error) {
	var out []byte
	var table [][]byte
	reset := func() {
		table = table[:0]
		for i := 0; i < 256; i++ {
			table = append(table, []byte{byte(i)})
		}
		table = append(table, nil, nil) // 256 clear, 257 end
	}
	reset()
	width := 9
	var bits uint32
	nbits := 0
	var prev []byte
	e := 0
	if early {
		e = 1
	}
	for _, c := range data {
		bits = bits<<8 | uint32(c)
		nbits += 8
		for nbits >= width {
			code := int(bits>>(nbits-width)) & (1<<width - 1)
			nbits -= width
			switch {
			case code == 256:
				reset()
				width, prev = 9, nil
				continue
			case code == 257:
				return out, nil
			}
			var entry []byte
			switch {
			case code < len(table) && table[code] != nil:
				entry = table[code]
			case code == len(table) && prev != nil:
				entry = append(append([]byte{}, prev...), prev[0])
			default:
				return out, fmt.Errorf("bad lzw code %d", code)
			}
			out = append(out, entry...)
			if len(out) > maxDecoded {
				return nil, fmt.Errorf("stream decodes to more than %d bytes", maxDecoded)
			}
			if prev != nil && len(table) < 4096 {
				table = append(table, append(append([]byte{}, prev...), entry[0]))
			}
			prev = entry
			if len(table)+e >= 1<<width && width < 12 {
				width++
			}
		}
	}
	return out, nil
}

func runLength(data []byte) []byte {
	var out []byte
	for i := 0; i < len(data) && len(out) <= maxDecoded; {
		n := int(data[i])
		i++
		switch {
		case n < 128:
			end := min(i+n+1, len(data))
			out = append(out, data[i:end]...)
			i = end
		case n > 128:
			if i < len(data) {
				out = append(out, bytes.Repeat(data[i:i+1], 257-n)...)
				i++
			}
		default:
			return out
		}
	}
	return out
}

// unpredict undoes a PNG (10-15) or TIFF (2) predictor.
func unpredict(dict, data []byte) ([]byte, error) {
	p := predictor(dict)
	if p <= 1 {
		return data, nil
	}
	colors := intKey(colorsRE, dict, 1)
	bpc := intKey(bitsRE, dict, 8)
	columns := intKey(columnsRE, dict, 1)
	bpp := max(1, (colors*bpc+7)/8)
	row := (colors*bpc*columns + 7) / 8
	if row <= 0 || row > 1<<20 {
		return nil, fmt.Errorf("bad predictor columns %d", columns)
	}
	if p == 2 {
		if bpc != 8 {
			return nil, fmt.Errorf("tiff predictor with %d bits", bpc)
		}
		out := append([]byte{}, data...)
		for r := 0; r+row <= len(out); r += row {
			for i := bpp; i < row; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	prev := make([]byte, row)
	out := make([]byte, 0, len(data))
	for i := 0; i+1 <= len(data); i += row + 1 {
		kind := data[i]
		end := min(i+1+row, len(data))
		cur := make([]byte, row)
		copy(cur, data[i+1:end])
		for j := 0; j < row; j++ {
			var left, upLeft byte
			if j >= bpp {
				left, upLeft = cur[j-bpp], prev[j-bpp]
			}
			up := prev[j]
			switch kind {
			case 0:
			case 1:
				cur[j] += left
			case 2:
				cur[j] += up
			case 3:
				cur[j] += byte((int(left) + int(up)) / 2)
			case 4:
				cur[j] += paeth(left, up, upLeft)
			default:
				return nil, fmt.Errorf("bad png predictor %d", kind)
			}
		}
		out = append(out, cur[:end-i-1]...)
		prev = cur
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dropKeys removes the entries for keys from a dictionary's source text:
// each key and its value, a name, number, reference, string, array or
// dictionary.
func dropKeys(dict []byte, keys ...string) []byte {
	out := append([]byte{}, dict...)
	for _, k := range keys {
		re := regexp.MustCompile(`/` + k + `\b`)
		for {
			loc := re.FindIndex(out)
			if loc == nil {
				break
			}
			end := valueEnd(out, loc[1])
			out = append(out[:loc[0]], out[end:]...)
		}
	}
	return out
}

// valueEnd returns the offset just past the PDF value that starts at or
// after i in b.
func valueEnd(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		return i
	}
	switch {
	case b[i] == '/':
		i++
		for i < len(b) && !isSpaceOrDelim(b[i]) {
			i++
		}
		return i
	case b[i] == '[' || b[i] == '(' || bytes.HasPrefix(b[i:], []byte("<<")) || b[i] == '<':
		open, close := b[i], byte(']')
		switch open {
		case '(':
			close = ')'
		case '<':
			close = '>'
		}
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case open:
				depth++
			case close:
				depth--
				if depth == 0 {
					if open == '<' && i+1 < len(b) && b[i+1] == '>' {
						i++
					}
					return i + 1
				}
			}
		}
		return i
	}
	// A number, or a reference "N G R".
	j := i
	for j < len(b) && !isSpaceOrDelim(b[j]) {
		j++
	}
	if m := regexp.MustCompile(`^\s+\d+\s+R\b`).FindIndex(b[j:]); m != nil {
		return j + m[1]
	}
	return j
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

// streamData returns the raw data of the stream whose "stream" keyword
// is at rest[i:], up to its "endstream", and whether it found one.
func streamData(rest []byte, i int) ([]byte, bool) {
	body := rest[i+len("stream"):]
	switch {
	case bytes.HasPrefix(body, []byte("\r\n")):
		body = body[2:]
	case bytes.HasPrefix(body, []byte("\n")), bytes.HasPrefix(body, []byte("\r")):
		body = body[1:]
	}
	end := bytes.Index(body, []byte("endstream"))
	if end < 0 {
		return nil, false
	}
	return bytes.TrimRight(body[:end], "\r\n"), true
}

// lexClean mends what the library's lexer rejects in a content stream but
// readers tolerate: a backslash before a character that is not an escape
// inside a literal string (the spec says to ignore it: "\ " is " "), a
// stray '>' outside any hex string or dictionary, and operators inside an
// array ("[(a) 0 Tc (b)] TJ", which pdf.js ignores). changed is false when
// there was nothing to mend.
func lexClean(data []byte) (out []byte, changed bool) {
	out = make([]byte, 0, len(data))
	arrays := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '[':
			arrays++
			out = append(out, c)
		case c == ']':
			arrays = max(arrays-1, 0)
			out = append(out, c)
		case arrays > 0 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '\'' || c == '"') && (i == 0 || isSpaceOrDelim(data[i-1]) && data[i-1] != '/'):
			j := i
			for j < len(data) && !isSpaceOrDelim(data[j]) {
				j++
			}
			switch string(data[i:j]) {
			case "true", "false", "null":
				out = append(out, data[i:j]...)
			default:
				changed = true // an operator inside an array
			}
			i = j - 1
		case c == '%': // a comment runs to the end of the line
			j := i
			for j < len(data) && data[j] != '\n' && data[j] != '\r' {
				j++
			}
			out = append(out, data[i:j]...)
			i = j - 1
		case c == '(':
			depth := 0
			j := i
			for ; j < len(data); j++ {
				d := data[j]
				if d == '\\' && j+1 < len(data) {
					if bytes.IndexByte([]byte("nrtbf()\\01234567\r\n"), data[j+1]) < 0 {
						changed = true // drop the backslash
						continue
					}
					out = append(out, d, data[j+1])
					j++
					continue
				}
				out = append(out, d)
				if d == '(' {
					depth++
				} else if d == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			i = j
		case c == '<' && i+1 < len(data) && data[i+1] == '<':
			out = append(out, '<', '<')
			i++
		case c == '>' && i+1 < len(data) && data[i+1] == '>':
			out = append(out, '>', '>')
			i++
		case c == '<': // a hex string, to its '>'
			j := bytes.IndexByte(data[i:], '>')
			if j < 0 {
				out = append(out, data[i:]...)
				return out, changed
			}
			out = append(out, data[i:i+j+1]...)
			i += j
		case c == '>':
			changed = true // stray
		default:
			out = append(out, c)
		}
	}
	return out, changed
}

// rewriteStream returns a new definition of object n whose stream the
// library cannot read as it is: decoded, and without inline images (the
// library's lexer trips on their binary data). ok is false when the stream
// needs nothing or cannot be decoded.
func rewriteStream(n, gen int, rest []byte) (obj []byte, ok bool) {
	head := rest[:min(len(rest), maxDictScan)]
	i := bytes.Index(head, []byte("stream"))
	if i < 0 || bytes.Contains(head[:i], []byte("endobj")) {
		return nil, false
	}
	dict := head[:i]
	rewrite := needsRewrite(dict)
	content := !bytes.Contains(dict, []byte("/Subtype")) && !bytes.Contains(dict, []byte("/Type"))
	if !rewrite && !content {
		return nil, false
	}
	raw, ok := streamData(rest, i)
	if !ok {
		return nil, false
	}
	data := raw
	if len(filters(dict)) > 0 {
		d, err := decodeStream(dict, raw)
		if err != nil {
			return nil, false
		}
		data = d
	}
	if content {
		// Only content streams can hold inline images; replace each with
		// nothing, keeping the operators around it.
		if stripped := inlineImageRE.ReplaceAll(data, []byte("$1 $2")); len(stripped) != len(data) {
			data, rewrite = stripped, true
		}
		if clean, changed := lexClean(data); changed {
			data, rewrite = clean, true
		}
		// The library trusts /Length alone: a content stream without one
		// (operator-in-TJ-array.pdf) reads as empty, one with a wrong
		// one as cut. Readers look for "endstream"; so does streamData.
		if m := lengthRE.FindSubmatch(dict); m == nil {
			rewrite = true
		} else if n, err := strconv.Atoi(string(m[1])); err == nil && len(m[2]) == 0 && abs(n-len(raw)) > 2 {
			rewrite = true
		}
	}
	if !rewrite {
		return nil, false
	}
	d := bytes.TrimSpace(dropKeys(dict, "Filter", "DecodeParms", "DP", "Length"))
	d = bytes.TrimSuffix(d, []byte(">>"))
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n%d %d obj\n%s /Length %d >>\nstream\n", n, gen, d, len(data))
	out.Write(data)
	out.WriteString("\nendstream\nendobj\n")
	return out.Bytes(), true
}
