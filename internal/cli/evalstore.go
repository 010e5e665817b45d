package cli

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/weaviate"
)

// A benchmark run against a remote store (rag eval --beir --store URL)
// builds the benchmark's index in a scratch collection of the same server,
// never in the user's: evalScratch names it, and drops it afterwards unless
// --keep says to keep it for the next run.
//
// The name is the user's collection, "_eval_", the benchmark's name and a
// hash of what the index depends on (the documents, the chunk size, the
// embedding model): Rag_eval_scifact_1f2e3d4c. The same benchmark with the
// same settings always gets the same collection, so a run that was killed
// before it could drop its collection leaves one that the next such run
// reuses (its ingest is incremental) and drops; a kept one is reused the
// same way. The corpus files go to a folder named after it in rag's data
// folder, so that the paths recorded in the collection stay the same
// between runs.

// scratchMarker is what every scratch collection's name has after the
// user's collection.
const scratchMarker = "_eval_"

// evalScratch is one run's scratch collection.
type evalScratch struct {
	loc    store.Location // the scratch collection's URL
	corpus string         // the corpus folder
}

// scratchName is the scratch collection of benchmark c for the user's
// collection base, with the settings s (chunk size, embedding model).
func scratchName(base string, c *eval.Collection, s config.Settings) string {
	h := sha256.New()
	field := func(v string) {
		binary.Write(h, binary.LittleEndian, uint64(len(v)))
		h.Write([]byte(v))
	}
	field("rag eval scratch 1")
	field(c.Name)
	field(fmt.Sprint(s.ChunkTokens))
	field(s.EmbedModel)
	for _, d := range c.Docs {
		field(d.ID)
		field(d.Title)
		field(d.Text)
	}
	var slug strings.Builder
	for _, r := range strings.ToLower(c.Name) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) && slug.Len() < 24 {
			slug.WriteRune(r)
		}
	}
	if slug.Len() == 0 {
		slug.WriteString("beir")
	}
	return base + scratchMarker + slug.String() + "_" + hex.EncodeToString(h.Sum(nil)[:4])
}

// newScratch is the scratch collection of c on the server loc names.
func (a *app) newScratch(loc store.Location, c *eval.Collection, s config.Settings) (*evalScratch, error) {
	data, err := config.DataDir(a.getenv)
	if err != nil {
		return nil, err
	}
	return scratchAt(loc, scratchName(loc.Collection, c, s), data), nil
}

// scratchAt is the scratch collection name on the server loc names, with
// its corpus folder in rag's data folder data.
func scratchAt(loc store.Location, name, data string) *evalScratch {
	sc := &evalScratch{loc: loc, corpus: filepath.Join(data, "eval", name+".corpus")}
	sc.loc.Collection = name
	return sc
}

// client connects to the scratch collection's server (through the user's
// store settings: the key, replication and consistency).
func (sc *evalScratch) client(ctx context.Context) (*weaviate.Client, error) {
	st, err := weaviate.ForLocation(sc.loc)
	if err != nil {
		return nil, usageError{withHint(err, "fix the variable or unset it")}
	}
	return st.Client(ctx)
}

// others lists the scratch collections of the user's collection other than
// this one: kept by --keep, or left by runs killed before they could drop
// theirs (with other benchmarks or settings).
func (sc *evalScratch) others(ctx context.Context, userBase string) ([]string, error) {
	c, err := sc.client(ctx)
	if err != nil {
		return nil, err
	}
	all, err := c.Stores(ctx, userBase+scratchMarker)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range all {
		if b != sc.loc.Collection {
			out = append(out, b)
		}
	}
	return out, nil
}

// drop deletes the scratch collection and its corpus folder. It runs after
// the evaluation, also when the run was interrupted, so it gets a context
// of its own.
func (sc *evalScratch) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	c, err := sc.client(ctx)
	if err != nil {
		return err
	}
	if err := c.Drop(ctx); err != nil {
		return err
	}
	return os.RemoveAll(sc.corpus)
}

// EvalClean is `rag eval --clean --json`: the scratch collections dropped.
type EvalClean struct {
	Store   string   `json:"store"`
	Dropped []string `json:"dropped"`
}

// cleanScratch is rag eval --clean: drop every scratch collection of the
// user's collection (kept ones, and those of killed runs) with the corpus
// folders this machine kept for them.
func (a *app) cleanScratch(ctx context.Context) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	loc, err := parseStore(s)
	if err != nil {
		return err
	}
	if loc.Local() {
		return usagef("--clean drops the benchmark collections of a store: give --store URL (locally rag eval --beir keeps nothing but an --index DIR you name)")
	}
	data, err := config.DataDir(a.getenv)
	if err != nil {
		return err
	}
	user := &evalScratch{loc: loc}
	c, err := user.client(ctx)
	if err != nil {
		return err
	}
	names, err := c.Stores(ctx, loc.Collection+scratchMarker)
	if err != nil {
		return fmt.Errorf("list the benchmark collections on %s: %w", loc, err)
	}
	out := EvalClean{Store: loc.String(), Dropped: []string{}}
	for _, n := range names {
		sc := scratchAt(loc, n, data)
		if err := sc.drop(ctx); err != nil {
			return fmt.Errorf("drop %s: %w", sc.loc, err)
		}
		out.Dropped = append(out.Dropped, n)
	}
	if a.json {
		return a.writeJSON(out)
	}
	if len(names) == 0 {
		fmt.Fprintf(a.s.Out, "no benchmark collections of %s on %s\n", loc.Collection, loc.Host)
		return nil
	}
	fmt.Fprintf(a.s.Out, "dropped %s of %s: %s\n", plural(len(names), "benchmark collection", "benchmark collections"), loc.Collection, strings.Join(names, ", "))
	return nil
}
