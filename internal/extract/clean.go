package extract

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// CleanText makes document text safe to print on a terminal: it drops ANSI
// escape sequences (CSI, OSC and the other ESC forms, in 7-bit and 8-bit
// spelling), C0 and C1 control characters other than \n and \t, and DEL; it
// turns \r\n into \n and a lone \r into a space, and replaces invalid UTF-8
// with U+FFFD.
//
// CleanText never adds or removes a \n, so line numbers computed on its
// output match the input.
func CleanText(s string) string {
	if isClean(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n' || c == '\t':
			b.WriteByte(c)
			i++
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++ // the \n is written on the next turn
				continue
			}
			b.WriteByte(' ')
			i++
		case c == 0x1b:
			i = skipEscape(s, i+1)
		case c < 0x20 || c == 0x7f:
			i++
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f:
			// A C1 control character, U+0080..U+009F.
			switch s[i+1] {
			case 0x9b: // CSI
				i = skipCSI(s, i+2)
			case 0x90, 0x98, 0x9d, 0x9e, 0x9f: // DCS, SOS, OSC, PM, APC
				i = skipString(s, i+2)
			default:
				i += 2
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// isClean reports whether CleanText would return s unchanged.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
		if c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// skipEscape returns the index just past the escape sequence whose ESC byte
// precedes s[i]. It never skips a \n.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, e.g. ESC ( B
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e: // two-byte sequences such as ESC 7, ESC c
		return i + 1
	}
	return i
}

// skipCSI skips the parameter, intermediate and final bytes of a control
// sequence that starts at s[i]. A malformed sequence ends at the first byte
// that does not fit, which is kept.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString skips the body of an OSC, DCS, SOS, PM or APC string up to and
// including its terminator (BEL, ESC \ or ST). An unterminated string ends at
// the end of the line, and the \n is kept.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == '\n':
			return i
		case s[i] == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c:
			return i + 2
		}
		i++
	}
	return i
}

// Encodings decodeText reports in Document.Encoding when a file is not
// UTF-8.
const (
	EncodingUTF16LE     = "utf-16le"
	EncodingUTF16BE     = "utf-16be"
	EncodingWindows1252 = "windows-1252"
)

// decodeText turns the bytes of a text file into clean UTF-8 and names the
// encoding it decoded when that was not UTF-8. It honours a UTF-8 or UTF-16
// byte-order mark. Invalid UTF-8 is read as Windows-1252 (a superset of the
// printable Latin-1) when that yields only printable text; otherwise content
// with NUL bytes or more than a small share of invalid UTF-8 is ErrBinary,
// and a few stray invalid bytes become U+FFFD.
func decodeText(data []byte) (text, encoding string, err error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		data, encoding = decodeUTF16(data[2:], binary.LittleEndian), EncodingUTF16LE
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		data, encoding = decodeUTF16(data[2:], binary.BigEndian), EncodingUTF16BE
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", "", newError(ErrBinary, "binary file", nil)
	}
	if !utf8.Valid(data) {
		bad, multi := invalidBytes(data)
		if bad > multi {
			// More stray bytes than well-formed UTF-8 sequences: a legacy
			// 8-bit encoding rather than UTF-8 with a few damaged bytes.
			if s, ok := decodeWindows1252(data); ok {
				return CleanText(s), EncodingWindows1252, nil
			}
		}
		if bad > 4 && bad*20 > len(data) {
			return "", "", newError(ErrBinary, "not valid utf-8", nil)
		}
	}
	return CleanText(string(data)), encoding, nil
}

// decodeWindows1252 decodes data as Windows-1252 and reports whether the
// result is text: no byte that Windows-1252 leaves undefined, no control
// character other than tab, newline, carriage return and form feed.
func decodeWindows1252(data []byte) (string, bool) {
	s, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return "", false
	}
	for _, r := range string(s) {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\f':
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == utf8.RuneError:
			return "", false
		}
	}
	return string(s), true
}

// invalidBytes counts the bytes of data that are not part of valid UTF-8,
// and the valid multi-byte sequences.
func invalidBytes(data []byte) (bad, multi int) {
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && n == 1:
			bad++
		case n > 1:
			multi++
		}
		data = data[n:]
	}
	return bad, multi
}

func decodeUTF16(data []byte, order binary.ByteOrder) []byte {
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	return []byte(string(utf16.Decode(units)))
}

// collapseSpace replaces every run of white space with one space and trims
// both ends.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// lineIndex maps byte offsets in a text to 1-based line numbers. A line ends
// at \n; text after the last \n is one more line.
type lineIndex struct {
	src    string
	starts []int // starts[i] is the offset of line i+1
}

func newLineIndex(src string) *lineIndex {
	starts := make([]int, 1, strings.Count(src, "\n")+1)
	for i := 0; i < len(src); {
		j := strings.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		starts = append(starts, i)
	}
	return &lineIndex{src: src, starts: starts}
}

// count returns the number of lines.
func (x *lineIndex) count() int { return len(x.starts) }

// lineOf returns the line holding byte offset off.
func (x *lineIndex) lineOf(off int) int {
	return sort.Search(len(x.starts), func(i int) bool { return x.starts[i] > off })
}

// line returns line n without its \n, or "" when n is out of range.
func (x *lineIndex) line(n int) string {
	if n < 1 || n > len(x.starts) {
		return ""
	}
	return x.slice(n, n)
}

// slice returns lines from through to, inclusive, without the final \n.
func (x *lineIndex) slice(from, to int) string {
	from = max(from, 1)
	to = min(to, len(x.starts))
	if from > to {
		return ""
	}
	end := len(x.src)
	if to < len(x.starts) {
		end = x.starts[to] - 1
	}
	return x.src[x.starts[from-1]:end]
}

// blank reports whether s holds only white space.
func blank(s string) bool {
	return strings.TrimSpace(s) == ""
}
