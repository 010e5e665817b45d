package lexical

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer is the FTS5 tokenize option the table holding Document strings
// must be created with, e.g.
//
//	CREATE VIRTUAL TABLE chunks_fts USING fts5(body, tokenize="ascii tokenchars '_'")
//
// Every term this package produces is made of ASCII lowercase letters and
// digits, '_' (the joiner of compound tokens) and non-ASCII letters, digits and
// marks. The ascii tokenizer splits only on ASCII non-alphanumerics and treats
// every non-ASCII rune as part of a token, so each term reaches the index whole
// and unchanged, whatever its script. (unicode61 would cut Devanagari or Thai
// words at their combining marks.) Under a tokenizer without '_' as a token
// character, compounds degrade to their parts and queries stay valid.
const Tokenizer = "ascii tokenchars '_'"

// stemmer picks the stemming applied to plain words.
type stemmer int

const (
	stemNone     stemmer = iota // no stemming (the evaluation pairs it with FTS5's porter wrapper)
	stemSnowball                // Snowball English (Porter2)
)

// options are the analysis choices. The exported functions use defaults; the
// others exist so the evaluation can measure the alternatives.
type options struct {
	stem       stemmer
	stopwords  bool // drop English stopwords
	compounds  bool // emit the whole of a compound token beside its parts
	hyphen     bool // '-' joins a compound (IL-6, COVID-19) rather than separating words
	splitAlnum bool // letter/digit boundaries cut a token into parts (E1234 -> e, 1234)
}

var defaults = options{
	stem:       stemSnowball,
	stopwords:  true,
	compounds:  true,
	hyphen:     false,
	splitAlnum: true,
}

// Terms analyses text into index terms, in text order, repeats kept.
//
// The text is NFKC-normalised (fullwidth forms, ligatures such as "ﬁ") and
// lowercased, then cut into tokens: runs of letters, digits and marks, joined
// into one compound token by a single '_', '.' or '/' between two of them
// (ERR_CONN_RESET, v1.2.3, os.path.join, internal/lexical are one token each).
// An apostrophe between letters is dropped (alzheimer's -> alzheimers). Every
// other rune separates tokens, '-' included (IL-6 is il and 6).
//
// A token of one part becomes one term: dropped if it is an English stopword,
// stemmed with Snowball English if it is all ASCII letters, kept as is
// otherwise (naïve, 42). A token of several parts, where a boundary between
// letters and digits also cuts parts, becomes its whole form, with joiners
// written as '_' and not stemmed (err_conn_reset, v1_2_3, e1234), plus each
// part analysed as a one-part token (err conn reset; v 1 2 3; e 1234). The
// whole form makes an exact identifier rank first; the parts keep it findable
// by any piece, or written another way (E-1234, covid19 for COVID-19).
//
// Runs of Han, Hiragana, Katakana and Hangul become overlapping character
// bigrams (東京都 -> 東京 京都), a lone such character a unigram, since these
// scripts do not separate words by spaces and bigrams find words without a
// dictionary. Other scripts without spaces (Thai, Lao, Khmer, Myanmar) are not
// segmented: a run becomes one term.
func Terms(text string) []string {
	return defaults.terms(text)
}

// Document returns the string to store in the FTS5 column for text: the terms
// of Terms joined by single spaces. See Tokenizer for the table it expects.
func Document(text string) string {
	return strings.Join(Terms(text), " ")
}

// ChunkTerms is the analysed text stored for a chunk: its heading path and
// its text, as Document makes it. Ingest stores it; a store that copies
// chunks (rag migrate) recomputes it from what it keeps.
func ChunkTerms(headings []string, text string) string {
	return Document(strings.Join(headings, "\n") + "\n" + text)
}

// Query returns an FTS5 MATCH expression for a user's query: each distinct
// term double-quoted (so no term is ever read as FTS5 syntax such as NEAR,
// AND, column filters or '*') and OR-ed, so that bm25() ranks documents by how
// many, and which, terms they hold. It returns "" when text has no terms (only
// stopwords or punctuation); callers skip the lexical leg then.
func Query(text string) string {
	return defaults.query(text)
}

func (o options) query(text string) string {
	return Match(o.terms(text))
}

// Match is Query over terms already analysed (Terms of the query): the
// FTS5 MATCH expression of their distinct terms, OR-ed; "" for none.
func Match(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	seen := make(map[string]bool, len(terms))
	var b strings.Builder
	for _, t := range terms {
		if seen[t] {
			continue
		}
		seen[t] = true
		if b.Len() > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('"')
		// Terms never hold a '"', but a doubled quote is how FTS5 escapes one,
		// so the expression stays valid if the analysis ever changes.
		b.WriteString(strings.ReplaceAll(t, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}

func (o options) terms(text string) []string {
	if text == "" {
		return nil
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	text = norm.NFKC.String(text)
	rs := []rune(text)
	var out []string
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case isCJK(r):
			j := i
			for j < len(rs) && isCJK(rs[j]) {
				j++
			}
			out = appendBigrams(out, rs[i:j])
			i = j
		case isWord(r):
			i = o.token(rs, i, &out)
		default:
			i++
		}
	}
	return out
}

// token reads the token starting at rs[i], appends its terms to out and
// returns the index after it.
func (o options) token(rs []rune, i int, out *[]string) int {
	var parts []string
	var part, whole []rune
	j := i
	for j < len(rs) {
		r := rs[j]
		if isWord(r) {
			if o.splitAlnum && len(part) > 0 && !unicode.IsMark(r) && unicode.IsNumber(r) != unicode.IsNumber(part[len(part)-1]) {
				parts = append(parts, string(part))
				part = part[:0:0]
			}
			r = unicode.ToLower(r)
			part = append(part, r)
			whole = append(whole, r)
			j++
			continue
		}
		if j+1 < len(rs) && isWord(rs[j+1]) {
			if isApostrophe(r) && unicode.IsLetter(rs[j-1]) && unicode.IsLetter(rs[j+1]) {
				j++
				continue
			}
			if o.isJoiner(r) {
				parts = append(parts, string(part))
				part = part[:0:0]
				whole = append(whole, '_')
				j++
				continue
			}
		}
		break
	}
	parts = append(parts, string(part))
	if len(parts) > 1 && o.compounds {
		*out = append(*out, string(whole))
	}
	for _, p := range parts {
		if t, ok := o.plain(p); ok {
			*out = append(*out, t)
		}
	}
	return j
}

// plain analyses one lowercase run of letters, digits and marks.
func (o options) plain(w string) (string, bool) {
	if o.stopwords && english.IsStopWord(w) {
		return "", false
	}
	if o.stem == stemSnowball && isASCIILetters(w) {
		return stem(w), true
	}
	return w, true
}

// stemCache memoises Snowball stems, which cost about 1 µs a word and made up
// two thirds of the analysis time; word frequencies are Zipfian, so a bounded
// cache catches nearly all of them. Past maxStemCache entries new words are
// stemmed but not remembered, so hostile input cannot grow it without bound.
var stemCache struct {
	sync.RWMutex
	m map[string]string
}

const maxStemCache = 1 << 16

func stem(w string) string {
	stemCache.RLock()
	s, ok := stemCache.m[w]
	stemCache.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(w, true)
	stemCache.Lock()
	if stemCache.m == nil {
		stemCache.m = make(map[string]string)
	}
	if len(stemCache.m) < maxStemCache {
		stemCache.m[w] = s
	}
	stemCache.Unlock()
	return s
}

func appendBigrams(out []string, run []rune) []string {
	if len(run) == 1 {
		return append(out, string(run))
	}
	for k := 0; k+1 < len(run); k++ {
		out = append(out, string(run[k:k+2]))
	}
	return out
}

func (o options) isJoiner(r rune) bool {
	switch r {
	case '_', '.', '/':
		return true
	case '-':
		return o.hyphen
	}
	return false
}

func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' }

// isWord reports whether r belongs inside a (non-CJK) token: letters, numbers
// and marks, so that scripts written with combining vowel signs stay whole.
// CJK runes are excluded: they end a token and start a bigram run.
func isWord(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)) && !isCJK(r)
}

// isCJK reports whether r is written without spaces between words in a script
// that bigrams suit: Han (with 々 and 〆), Hiragana, Katakana (with the
// prolonged sound mark ー, which is Common script) and Hangul.
func isCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r == 0x30FC || r == 0xFF70 || r == 0x3005 || r == 0x3006
}

func isASCIILetters(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	return w != ""
}
