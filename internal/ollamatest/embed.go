package ollamatest

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Embed returns the vector the fake server answers for text with a model of
// dimension dim. It is deterministic and has unit length.
//
// The vector is a signed feature hash of the lowercased words of text (a word
// is a run of letters and digits): each word adds ±1 to one of dim buckets.
// Texts that share words therefore have a positive cosine similarity and texts
// that share none are close to orthogonal, which is enough for retrieval tests
// to rank the document that mentions the query's words first.
//
// A text without words (empty, or only punctuation) hashes the whole text so
// that it still gets a unit vector.
func Embed(text string, dim int) []float32 {
	if dim <= 0 {
		return nil
	}
	acc := make([]float64, dim)
	words := Words(text)
	if len(words) == 0 {
		words = []string{text}
	}
	for _, w := range words {
		h := hash64(w)
		i := int(h % uint64(dim))
		if h>>63 == 0 {
			acc[i]++
		} else {
			acc[i]--
		}
	}
	var sum float64
	for _, x := range acc {
		sum += x * x
	}
	if sum == 0 {
		// Every word cancelled out in its bucket; keep the promise of unit length.
		acc[int(hash64(text)%uint64(dim))] = 1
		sum = 1
	}
	norm := 1 / math.Sqrt(sum)
	v := make([]float32, dim)
	for i, x := range acc {
		v[i] = float32(x * norm)
	}
	return v
}

// Words returns the lowercased words of text as Embed sees them: maximal runs of
// letters and digits.
func Words(text string) []string {
	var words []string
	for _, t := range scan(text) {
		if t.word {
			words = append(words, strings.ToLower(text[t.start:t.end]))
		}
	}
	return words
}

// CountTokens is the fake server's tokenizer: every word (a maximal run of
// letters and digits) is one token and every other rune that is not white
// space (punctuation, symbols) is one token. "Hello, world!" is 4 tokens.
//
// The fake compares this count with a model's context length: /api/embed
// rejects or truncates longer inputs, and the counts are reported as
// prompt_eval_count and eval_count.
func CountTokens(text string) int {
	return len(scan(text))
}

// TruncateTokens returns the longest prefix of text holding at most n tokens,
// as the fake server embeds an over-long input when truncation is allowed.
func TruncateTokens(text string, n int) string {
	toks := scan(text)
	if n >= len(toks) {
		return text
	}
	if n <= 0 {
		return ""
	}
	return text[:toks[n-1].end]
}

type token struct {
	start, end int
	word       bool
}

func scan(text string) []token {
	var toks []token
	inWord := false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		isWord := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case isWord && inWord:
			toks[len(toks)-1].end = i + size
		case isWord:
			toks = append(toks, token{start: i, end: i + size, word: true})
		case unicode.IsSpace(r):
		default:
			toks = append(toks, token{start: i, end: i + size})
		}
		inWord = isWord
		i += size
	}
	return toks
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	// FNV's high bits mix poorly for short inputs; fold them with a final
	// avalanche step (from splitmix64) so the sign bit is as random as the rest.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
