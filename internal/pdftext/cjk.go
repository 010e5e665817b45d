package pdftext

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// cjkCMap is a predefined CJK CMap whose codes are the bytes of a legacy
// character encoding (EUC-JP, Shift-JIS, GBK, Big5, EUC-KR) or of UCS-2:
// a Type0 font using one without a /ToUnicode map, typically a font the
// file does not embed, has its text decoded from those bytes, as readers
// with Adobe's CMap files do. Codes are one byte (ASCII) or more as the
// encoding says.
type cjkCMap struct {
	enc     encoding.Encoding
	codeLen func(s string) int // bytes of the code s starts with
}

// cjkCMaps maps the predefined CMap names (PDF 32000-1, 9.7.5.2) onto the
// byte encoding of their codes; -V are the vertical twins.
var cjkCMaps = map[string]cjkCMap{}

func init() {
	eucJP := cjkCMap{japanese.EUCJP, func(s string) int {
		switch c := s[0]; {
		case c == 0x8F:
			return 3
		case c >= 0x80:
			return 2
		}
		return 1
	}}
	sjis := cjkCMap{japanese.ShiftJIS, func(s string) int {
		if c := s[0]; c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC {
			return 2
		}
		return 1
	}}
	double := func(e encoding.Encoding) cjkCMap { // lead byte >= 0x81: two bytes
		return cjkCMap{e, func(s string) int {
			if s[0] >= 0x81 {
				return 2
			}
			return 1
		}}
	}
	ucs2 := cjkCMap{unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), func(string) int { return 2 }}
	for names, m := range map[string]cjkCMap{
		"EUC":                          eucJP,
		"90ms-RKSJ 90msp-RKSJ":         sjis,
		"83pv-RKSJ 90pv-RKSJ Add-RKSJ": sjis,
		"GB-EUC GBpc-EUC GBK-EUC":      double(simplifiedchinese.GBK),
		"GBKp-EUC":                     double(simplifiedchinese.GBK),
		"B5pc ETen-B5 HKscs-B5":        double(traditionalchinese.Big5),
		"KSC-EUC KSCms-UHC KSCpc-EUC":  double(korean.EUCKR),
		"UniJIS-UCS2 UniGB-UCS2 UniCNS-UCS2 UniKS-UCS2 UniJIS-UCS2-HW": ucs2,
	} {
		for _, n := range strings.Fields(names) {
			cjkCMaps[n+"-H"], cjkCMaps[n+"-V"] = m, m
		}
	}
	cjkCMaps["83pv-RKSJ-H"] = sjis
	// H and V: two-byte JIS X 0208 codes, as ISO-2022-JP writes them
	// after its escape.
	jis := cjkCMap{jisEncoding{}, func(string) int { return 2 }}
	cjkCMaps["H"], cjkCMaps["V"] = jis, jis
}

// jisEncoding decodes two-byte JIS X 0208 codes through ISO-2022-JP.
type jisEncoding struct{ encoding.Encoding }

func (jisEncoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: jisTransformer{}}
}

type jisTransformer struct{ transform.NopResetter }

func (jisTransformer) Transform(dst, src []byte, atEOF bool) (int, int, error) {
	s, err := japanese.ISO2022JP.NewDecoder().Bytes(append(append([]byte("\x1b$B"), src...), "\x1b(B"...))
	if err != nil {
		return 0, 0, err
	}
	if len(dst) < len(s) {
		return 0, 0, transform.ErrShortDst
	}
	return copy(dst, s), len(src), nil
}

// decode returns the text of one code, "" when it is not valid in the
// encoding.
func (m cjkCMap) decode(code string) string {
	s, err := m.enc.NewDecoder().String(code)
	if err != nil || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return ""
	}
	return s
}
