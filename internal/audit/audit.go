// Package audit finds what is wrong with the data in an index before it
// misleads an answer: files and chunks stored twice, chunks that say nearly
// the same thing, documents left untouched for long or superseded by a newer
// near twin, and passages that look alike but disagree on a number, a date,
// a version or a negation.
//
// Near twins are found with MinHash signatures of word 3-shingles and
// locality-sensitive hashing (github.com/ekzhu/minhash-lsh), over the text
// with numbers masked and negations left out, so that statements differing
// only in what they claim land in the same bucket; the facts then tell a near
// duplicate from a possible contradiction. docs/audit.md has the measurements
// behind that choice (and against comparing the stored vectors).
//
// Contradictions found this way are cheap candidates; Check has a chat model
// judge them. The package reads the index and returns values; it never
// writes and never prints.
package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strings"
	"time"

	minwise "github.com/dgryski/go-minhash"
	minhashlsh "github.com/ekzhu/minhash-lsh"

	"github.com/ragcli/rag/internal/index"
)

// Defaults for Options left zero.
const (
	DefaultStaleAfter    = 365 * 24 * time.Hour
	DefaultAgeGap        = 90 * 24 * time.Hour
	DefaultNearThreshold = 0.7
	// candidateThreshold is the least estimated similarity of the masked
	// texts for a pair to be looked at; contradictions need at least
	// contradictionThreshold of their masked shingles in common.
	candidateThreshold     = 0.5
	contradictionThreshold = 0.6
	// numHash is the signature's length: 64 hashes estimate a Jaccard
	// similarity of 0.5 within ±0.06 (one standard error), enough to pick
	// the pairs whose texts are then compared exactly, and keep the LSH
	// tables at 14 bands (docs/audit.md).
	numHash = 64
	// estimateSlack lowers the bar for a signature's estimate, so that the
	// estimate's error rarely loses a pair the exact comparison would keep.
	estimateSlack = 0.15
)

// Options says what to audit and where the lines are drawn.
type Options struct {
	// Under limits the audit to files at or below this path; "" is all.
	Under string
	// StaleAfter: a file not modified for longer is stale.
	StaleAfter time.Duration
	// AgeGap: a near-duplicate pair whose files' modification times differ
	// by more is flagged as a possibly stale copy.
	AgeGap time.Duration
	// NearThreshold is the least Jaccard similarity of two chunks' word
	// 3-shingles for them to be near duplicates.
	NearThreshold float64
	// Now is the time ages are measured from; zero is time.Now().
	Now time.Time
}

// Place is one chunk's place.
type Place struct {
	Path      string    `json:"path"`
	StartLine int       `json:"start_line,omitempty"`
	EndLine   int       `json:"end_line,omitempty"`
	Page      int       `json:"page,omitempty"`
	Modified  time.Time `json:"modified"`
	// Text is the chunk's text, given for contradictions only.
	Text string `json:"text,omitempty"`
	id   uint64
}

// FileGroup is a set of files with identical content.
type FileGroup struct {
	SHA256 string   `json:"sha256"`
	Size   int64    `json:"size"`
	Paths  []string `json:"paths"`
}

// ChunkGroup is a set of identical chunks in different files.
type ChunkGroup struct {
	Places []Place `json:"places"`
	// Preview is the start of the shared text.
	Preview string `json:"preview"`
}

// NearPair is two chunks of different files that say nearly the same thing.
type NearPair struct {
	A, B       Place   `json:"-"`
	Places     []Place `json:"places"`
	Similarity float64 `json:"similarity"` // Jaccard of word 3-shingles
	// StaleCopy marks a pair whose files' ages differ by more than AgeGap:
	// the older is possibly a stale copy of the newer.
	StaleCopy  bool `json:"stale_copy"`
	AgeGapDays int  `json:"age_gap_days"`
}

// Stale is a document that looks out of date, with why.
type Stale struct {
	Path     string    `json:"path"`
	Modified time.Time `json:"modified"`
	AgeDays  int       `json:"age_days"`
	Reasons  []string  `json:"reasons"`
}

// Contradiction is a candidate pair: alike passages of different files whose
// numbers, dates, versions or negations differ.
type Contradiction struct {
	Places      []Place  `json:"places"`
	Similarity  float64  `json:"similarity"` // Jaccard of the masked shingles
	Differences []string `json:"differences"`
	// Check is the chat model's judgement, with Check run on the pair.
	Check *Verdict `json:"check,omitempty"`
}

// Report is everything an audit found.
type Report struct {
	Files           int             `json:"files"`
	Chunks          int             `json:"chunks"`
	DuplicateFiles  []FileGroup     `json:"duplicate_files"`
	DuplicateChunks []ChunkGroup    `json:"duplicate_chunks"`
	NearDuplicates  []NearPair      `json:"near_duplicates"`
	Stale           []Stale         `json:"stale"`
	Contradictions  []Contradiction `json:"contradictions"`
}

// chunkRef is what the audit keeps of a chunk while it reads the index.
type chunkRef struct {
	id               uint64
	file             int32 // index into files
	start, end, page int32
}

// Source is what an audit reads: every file with its chunks, then the
// texts of the few chunks it reports. Snapshot (the local index) and Store
// (any store's Reader, a Weaviate collection included) make one.
type Source interface {
	// EachFile calls fn with every file record sorted by path and the
	// file's chunks in document order, Text filled.
	EachFile(ctx context.Context, fn func(index.File, []index.Chunk) error) error
	// Chunks returns the chunks with these ids, Text filled.
	Chunks(ctx context.Context, ids []uint64) ([]index.Chunk, error)
}

// Run audits what src holds.
func Run(ctx context.Context, src Source, o Options) (*Report, error) {
	o = withDefaults(o)
	var files []index.File
	fileIdx := map[string]int32{}
	rep := &Report{DuplicateFiles: []FileGroup{}, DuplicateChunks: []ChunkGroup{},
		NearDuplicates: []NearPair{}, Stale: []Stale{}, Contradictions: []Contradiction{}}

	// One pass over the files and their chunks: identical texts are grouped
	// by hash; the first of each text gets a MinHash signature and goes into
	// the LSH index.
	var refs []chunkRef
	exact := map[[16]byte][]int{}
	var reps []int      // refs index of each signed chunk
	var sigs [][]uint64 // their signatures, in reps order
	lsh := minhashlsh.NewMinhashLSH16(numHash, candidateThreshold)
	err := src.EachFile(ctx, func(f index.File, chunks []index.Chunk) error {
		if !under(f.Path, o.Under) {
			return nil
		}
		fi := int32(len(files))
		fileIdx[f.Path] = fi
		files = append(files, f)
		for _, c := range chunks {
			i := len(refs)
			refs = append(refs, chunkRef{id: c.ID, file: fi, start: int32(c.StartLine), end: int32(c.EndLine), page: int32(c.Page)})
			key := textKey(c.Text)
			exact[key] = append(exact[key], i)
			if len(exact[key]) > 1 {
				continue
			}
			sh := shingles(masked(c.Text))
			if len(sh) == 0 {
				continue
			}
			mh := minwise.NewMinWise(hashA, hashB, numHash)
			for s := range sh {
				mh.Push([]byte(s))
			}
			sig := mh.Signature()
			lsh.Add(len(reps), sig)
			reps = append(reps, i)
			sigs = append(sigs, sig)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Files = len(files)

	// Identical files share a hash; dupGroup tells which group a file is in.
	dupGroup := make([]int, len(files))
	byHash := map[string][]int{}
	for i, f := range files {
		byHash[f.Hash] = append(byHash[f.Hash], i)
		dupGroup[i] = -1
	}
	for _, idx := range byHash {
		if len(idx) < 2 {
			continue
		}
		g := FileGroup{SHA256: files[idx[0]].Hash, Size: files[idx[0]].Size}
		for _, i := range idx {
			g.Paths = append(g.Paths, files[i].Path)
			dupGroup[i] = len(rep.DuplicateFiles)
		}
		slices.Sort(g.Paths)
		rep.DuplicateFiles = append(rep.DuplicateFiles, g)
	}
	slices.SortFunc(rep.DuplicateFiles, func(a, b FileGroup) int { return cmp.Compare(a.Paths[0], b.Paths[0]) })
	for gi, g := range rep.DuplicateFiles {
		for _, p := range g.Paths {
			dupGroup[fileIdx[p]] = gi
		}
	}
	sameCopy := func(a, b int32) bool { return a == b || dupGroup[a] >= 0 && dupGroup[a] == dupGroup[b] }

	rep.Chunks = len(refs)
	place := func(i int) Place {
		c := refs[i]
		return Place{Path: files[c.file].Path, StartLine: int(c.start), EndLine: int(c.end), Page: int(c.page),
			Modified: time.Unix(0, files[c.file].ModTime).UTC(), id: c.id}
	}

	// Identical chunks in different files, unless the files are copies.
	// The groups are taken in the order of their first chunk, and every
	// ordering below is stable over the walk's order, so that the report
	// does not depend on map order (nor on chunk ids, which differ between
	// stores holding the same files).
	groups := make([][]int, 0, len(exact))
	for _, idx := range exact {
		groups = append(groups, idx)
	}
	slices.SortFunc(groups, func(a, b []int) int { return cmp.Compare(a[0], b[0]) })
	for _, idx := range groups {
		if len(idx) < 2 {
			continue
		}
		distinct := false
		for _, i := range idx[1:] {
			if !sameCopy(refs[i].file, refs[idx[0]].file) {
				distinct = true
				break
			}
		}
		if !distinct {
			continue
		}
		g := ChunkGroup{}
		for _, i := range idx {
			g.Places = append(g.Places, place(i))
		}
		rep.DuplicateChunks = append(rep.DuplicateChunks, g)
	}
	slices.SortStableFunc(rep.DuplicateChunks, func(a, b ChunkGroup) int {
		return cmp.Or(cmp.Compare(len(b.Places), len(a.Places)), comparePlace(a.Places[0], b.Places[0]))
	})

	// Candidate pairs from the LSH buckets, estimated from the signatures.
	lsh.Index()
	type pair struct{ a, b int } // refs indexes, a < b
	var cands []pair
	for k, sig := range sigs {
		for _, key := range lsh.Query(sig) {
			j := key.(int)
			if j <= k {
				continue
			}
			a, b := reps[k], reps[j]
			if sameCopy(refs[a].file, refs[b].file) || estimate(sig, sigs[j]) < candidateThreshold-estimateSlack {
				continue
			}
			cands = append(cands, pair{a, b})
		}
	}
	sigs = nil
	// lsh.Query answers in map order.
	slices.SortFunc(cands, func(x, y pair) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })

	// The candidates' texts decide: near duplicate, contradiction, or neither.
	ids := make([]uint64, 0, 2*len(cands))
	for _, p := range cands {
		ids = append(ids, refs[p.a].id, refs[p.b].id)
	}
	for _, g := range rep.DuplicateChunks {
		ids = append(ids, g.Places[0].id)
	}
	texts, err := chunkTexts(ctx, src, ids)
	if err != nil {
		return nil, err
	}
	for i := range rep.DuplicateChunks {
		rep.DuplicateChunks[i].Preview = preview(texts[rep.DuplicateChunks[i].Places[0].id])
	}
	stale := map[string]*Stale{}
	addStale := func(path string, modified time.Time, reason string) {
		s := stale[path]
		if s == nil {
			s = &Stale{Path: path, Modified: modified, AgeDays: days(o.Now.Sub(modified))}
			stale[path] = s
		}
		if !slices.Contains(s.Reasons, reason) {
			s.Reasons = append(s.Reasons, reason)
		}
	}
	for _, p := range cands {
		pa, pb := place(p.a), place(p.b)
		if comparePlace(pa, pb) > 0 {
			pa, pb = pb, pa
		}
		ta, tb := texts[pa.id], texts[pb.id]
		fa, fb := factsOf(ta), factsOf(tb)
		diff := differences(fa, fb)
		if len(diff) > 0 {
			sim := jaccard(shingles(masked(ta)), shingles(masked(tb)))
			if sim < contradictionThreshold {
				continue
			}
			pa.Text, pb.Text = ta, tb
			rep.Contradictions = append(rep.Contradictions, Contradiction{Places: []Place{pa, pb}, Similarity: round(sim), Differences: diff})
			// A passage naming an older version or date than its twin may be
			// superseded.
			va, vav := newestVersion(fa)
			vb, vbv := newestVersion(fb)
			if vav != nil && vbv != nil {
				switch c := compareVersions(vav, vbv); {
				case c < 0:
					addStale(pa.Path, pa.Modified, fmt.Sprintf("names %s where its near twin %s names %s", va, pb.Path, vb))
				case c > 0:
					addStale(pb.Path, pb.Modified, fmt.Sprintf("names %s where its near twin %s names %s", vb, pa.Path, va))
				}
			}
			continue
		}
		sim := jaccard(shingles(words(ta)), shingles(words(tb)))
		if sim < o.NearThreshold {
			continue
		}
		np := NearPair{A: pa, B: pb, Places: []Place{pa, pb}, Similarity: round(sim)}
		gap := pa.Modified.Sub(pb.Modified)
		older, newer := pa, pb
		if gap < 0 {
			gap = -gap
		} else {
			older, newer = pb, pa
		}
		np.AgeGapDays = days(gap)
		if gap > o.AgeGap {
			np.StaleCopy = true
			addStale(older.Path, older.Modified, fmt.Sprintf("near duplicate of newer %s (%d days newer)", newer.Path, np.AgeGapDays))
		}
		rep.NearDuplicates = append(rep.NearDuplicates, np)
	}
	slices.SortStableFunc(rep.NearDuplicates, func(a, b NearPair) int {
		return cmp.Or(cmp.Compare(b.Similarity, a.Similarity), comparePlace(a.A, b.A), comparePlace(a.B, b.B))
	})
	slices.SortStableFunc(rep.Contradictions, func(a, b Contradiction) int {
		return cmp.Or(cmp.Compare(b.Similarity, a.Similarity), comparePlace(a.Places[0], b.Places[0]), comparePlace(a.Places[1], b.Places[1]))
	})

	for _, f := range files {
		m := time.Unix(0, f.ModTime).UTC()
		if age := o.Now.Sub(m); age > o.StaleAfter {
			addStale(f.Path, m, fmt.Sprintf("not modified for %d days", days(age)))
		}
	}
	for _, s := range stale {
		rep.Stale = append(rep.Stale, *s)
	}
	slices.SortFunc(rep.Stale, func(a, b Stale) int { return cmp.Compare(a.Path, b.Path) })
	return rep, nil
}

func withDefaults(o Options) Options {
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.AgeGap <= 0 {
		o.AgeGap = DefaultAgeGap
	}
	if o.NearThreshold <= 0 {
		o.NearThreshold = DefaultNearThreshold
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Under != "" {
		o.Under = filepath.Clean(o.Under)
	}
	return o
}

func under(path, root string) bool {
	if root == "" || path == root {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}

// hashA and hashB are the two hash functions whose combinations make the
// MinHash permutations (as minhashlsh.NewMinhash makes them, without its
// per-signature seeding, which cost more than the hashing itself).
func hashA(b []byte) uint64 { return seeded(0x9e3779b97f4a7c15, b) }
func hashB(b []byte) uint64 { return seeded(0xc2b2ae3d27d4eb4f, b) }

func seeded(seed uint64, b []byte) uint64 {
	h := fnv.New64a()
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seed)
	h.Write(s[:])
	h.Write(b)
	return h.Sum64()
}

// textKey identifies a chunk's text up to white space.
func textKey(text string) [16]byte {
	sum := sha256.Sum256([]byte(strings.Join(strings.Fields(text), " ")))
	var k [16]byte
	copy(k[:], sum[:])
	return k
}

// estimate is the share of equal positions of two signatures: MinHash's
// estimate of the Jaccard similarity of the sets behind them.
func estimate(a, b []uint64) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(len(a))
}

func chunkTexts(ctx context.Context, src Source, ids []uint64) (map[uint64]string, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[uint64]string, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), 500)
		cs, err := src.Chunks(ctx, ids[:n])
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.ID] = c.Text
		}
		ids = ids[n:]
	}
	return out, nil
}

func comparePlace(a, b Place) int {
	return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.StartLine, b.StartLine), cmp.Compare(a.Page, b.Page), cmp.Compare(a.EndLine, b.EndLine))
}

// days is d in whole days, to the nearest.
func days(d time.Duration) int { return int((d + 12*time.Hour) / (24 * time.Hour)) }

func round(x float64) float64 { return float64(int(x*1000+0.5)) / 1000 }

func sortStrings(s []string) { slices.Sort(s) }

// preview is the start of text on one line.
func preview(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if r := []rune(t); len(r) > 80 {
		t = string(r[:79]) + "…"
	}
	return t
}
