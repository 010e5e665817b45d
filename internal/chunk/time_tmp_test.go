package chunk

import (
	"bytes"
	"testing"
	"time"
)

func TestTimeTmp(t *testing.T) {
	data := bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"), 200)
	st := time.Now()
	for range 10 {
		fuzzBody(t, data, 70, 30)
	}
	t.Log("fuzzBody 7KB:", time.Since(st)/10)
	doc := syntheticDocument(7000)
	st = time.Now()
	for range 10 {
		Split(doc, Options{MaxTokens: 64, Overlap: 30})
	}
	t.Log("split 7KB:", time.Since(st)/10)
}
