package ingest

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/secrets"
	"github.com/ragcli/rag/internal/walk"
)

// errPrivateKey skips a file whose text holds a private key block, as walk
// skips a file named id_rsa.
var errPrivateKey = errors.New("secret file (holds a private key)")

// guardSecrets keeps credentials out of the index (internal/secrets): a
// document holding a private key is refused with errPrivateKey, and
// credentials in any other are redacted in its text, which then never
// reaches a model or an output. It returns what it redacted, for the report
// ("" for nothing). A file the user named with --include is taken as it is.
func (r *run) guardSecrets(j *job, doc *extract.Document) (redacted string, err error) {
	if walk.Included(r.opts.Walk.Include, j.entry) {
		return "", nil
	}
	texts := make([]string, len(doc.Blocks))
	for i, b := range doc.Blocks {
		texts[i] = b.Text
	}
	if secrets.HasPrivateKey(strings.Join(texts, "\n")) { // a key may span blocks
		return "", errPrivateKey
	}
	counts := map[string]int{}
	for i := range doc.Blocks {
		text, found := secrets.Redact(doc.Blocks[i].Text)
		for _, f := range found {
			counts[f.Rule]++
		}
		doc.Blocks[i].Text = text
	}
	if len(counts) == 0 {
		return "", nil
	}
	var parts []string
	for rule, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, rule))
	}
	sort.Strings(parts)
	return "redacted " + strings.Join(parts, ", "), nil
}
