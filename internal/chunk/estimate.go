package chunk

import (
	"unicode"
	"unicode/utf8"
)

// specialTokens is what a BERT tokenizer adds to every input: [CLS] and [SEP].
const specialTokens = 2

// class is the kind of one estimator unit.
type class uint8

const (
	clsSpace class = iota // whitespace: costs nothing, separates words
	clsLatin              // a run of Latin letters (ASCII or accented), split at camelCase humps
	clsDigit              // a run of ASCII digits
	clsOther              // one rune: punctuation, symbol, CJK, non-Latin letter, invalid byte
)

// Byte classes of ASCII, for the hot loop.
const (
	bOther = iota // punctuation, symbols, control bytes: one token each
	bSpace        // ASCII whitespace
	bLower        // a-z
	bUpper        // A-Z
	bDigit        // 0-9
	bHigh         // first byte of a multi-byte sequence (or an invalid byte)
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 0x80:
			t[c] = bHigh
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
			t[c] = bSpace
		case c >= 'a' && c <= 'z':
			t[c] = bLower
		case c >= 'A' && c <= 'Z':
			t[c] = bUpper
		case c >= '0' && c <= '9':
			t[c] = bDigit
		default:
			t[c] = bOther
		}
	}
	return t
}()

// EstimateTokens is a conservative estimate of the number of tokens a BERT
// WordPiece or BPE tokenizer produces for s, [CLS] and [SEP] included.
//
// Whitespace is free; each punctuation or symbol rune is one token (two above
// U+FFFF, where byte-level BPE spends several); a run of Latin letters costs
// ceil(runes/4), counted separately for each camelCase hump; a run of ASCII
// digits costs ceil(digits/2); every CJK, Kana or Hangul rune, and every
// letter of another script, is one token. See the package comment for how
// these numbers were calibrated. It does not allocate.
func EstimateTokens(s string) int {
	n := specialTokens
	for i := 0; i < len(s); {
		j, c, _, _ := scanUnit(s, i, maxInt)
		n += c
		i = j
	}
	return n
}

// cost is the estimate of s without the special tokens. Costs add up over
// pieces separated by whitespace.
func cost(s string) int { return EstimateTokens(s) - specialTokens }

// costAtMost is cost(s) when that is at most limit, and some number above
// limit otherwise; it stops reading s there, so a huge block that cannot fit
// is not read to its end.
func costAtMost(s string, limit int) int {
	n := 0
	for i := 0; i < len(s) && n <= limit; {
		j, c, _, _ := scanUnit(s, i, limit-n)
		n += c
		i = j
	}
	return n
}

const maxInt = int(^uint(0) >> 1)

// scanUnit reads the unit that starts at s[i]: a whitespace run, a Latin
// letter run, a digit run, or a single other rune. It depends on nothing
// before i, so scanning a substring that starts and ends on unit boundaries
// gives the same units as scanning the whole string. A letter or digit run
// stops growing once its cost exceeds maxCost (the caller then knows it does
// not fit). nl counts the newlines of a whitespace unit.
func scanUnit(s string, i, maxCost int) (j, c int, cls class, nl int) {
	b := s[i]
	switch byteClass[b] {
	case bSpace:
		return scanSpace(s, i)
	case bLower, bUpper:
		return scanLatin(s, i, maxCost)
	case bDigit:
		limit := len(s)
		if maxCost < (len(s)-i)/2 {
			limit = i + 2*maxCost + 2
		}
		j = i + 1
		for j < limit && byteClass[s[j]] == bDigit {
			j++
		}
		return j, (j - i + 1) / 2, clsDigit, 0
	case bOther:
		return i + 1, 1, clsOther, 0
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && w <= 1:
		return i + 1, 1, clsOther, 0 // an invalid byte; byte-level BPE spends a token on it
	case unicode.IsSpace(r):
		return scanSpace(s, i)
	case isLatin(r):
		return scanLatin(s, i, maxCost)
	case r > 0xFFFF && !unicode.IsLetter(r):
		return i + w, 2, clsOther, 0 // emoji and other astral symbols
	}
	return i + w, 1, clsOther, 0
}

// scanSpace reads a run of whitespace starting at s[i], counting newlines.
func scanSpace(s string, i int) (j, c int, cls class, nl int) {
	j = i
	for j < len(s) {
		b := s[j]
		if byteClass[b] == bSpace {
			if b == '\n' {
				nl++
			}
			j++
			continue
		}
		if b < utf8.RuneSelf {
			break
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		if !unicode.IsSpace(r) {
			break
		}
		j += w
	}
	return j, 0, clsSpace, nl
}

// scanLatin reads a run of Latin letters starting at s[i], ending it before
// an ASCII lower-to-upper hump ("getElement" is two runs) and once its cost
// exceeds maxCost.
func scanLatin(s string, i, maxCost int) (j, c int, cls class, nl int) {
	limit := maxInt // runes
	if maxCost < maxInt/4-4 {
		limit = 4*maxCost + 4
	}
	k := 0
	j = i
	for j < len(s) && k < limit {
		b := s[j]
		switch byteClass[b] {
		case bLower, bUpper:
			if k > 0 {
				p := s[j-1]
				switch byteClass[p] {
				case bLower:
					if byteClass[b] == bUpper || rareBigram[p-'a']>>(b|0x20-'a')&1 != 0 {
						return j, (k + 3) / 4, clsLatin, 0
					}
				case bUpper:
					if rareBigram[p|0x20-'a']>>(b|0x20-'a')&1 != 0 {
						return j, (k + 3) / 4, clsLatin, 0
					}
				}
			}
			j++
			k++
			continue
		case bHigh:
			r, w := utf8.DecodeRuneInString(s[j:])
			if isLatin(r) {
				j += w
				k++
				continue
			}
		}
		break
	}
	return j, (k + 3) / 4, clsLatin, 0
}

// isLatin reports whether r is a non-ASCII Latin letter or a combining
// diacritic: an uncased BERT tokenizer strips the accents, so "café" costs
// what "cafe" costs.
func isLatin(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0x24F:
		return r != 0xD7 && r != 0xF7 // × and ÷ are symbols
	case r >= 0x300 && r <= 0x36F, r >= 0x1E00 && r <= 0x1EFF:
		return true
	}
	return false
}

// runesFor tells how many runes of a run of class cls fit in
// rem tokens, for cutting inside one enormous word.
func runesFor(cls class, rem int) int {
	switch cls {
	case clsLatin:
		return 4 * rem
	case clsDigit:
		return 2 * rem
	}
	return rem
}

var rareBigram = [26]uint32{0x2814291, 0x2edb6ee, 0x3e5a26a, 0x2e9b6e6, 0x2100602, 0x3e5b6ce, 0x3e9966e, 0x2e5beee, 0x1d10380, 0x3efbfff, 0x3ebde6f, 0x2e332c2, 0x2eb2ee4, 0x2c39282, 0x2810290, 0x3e136ee, 0x3efffff, 0x2c18282, 0x3a3226a, 0x2a1366a, 0x3f146a0, 0x3ffbeee, 0x3f99e6e, 0x3f77feb, 0x3f3beee, 0x3ffffef}
