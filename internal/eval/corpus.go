package eval

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxNameBytes bounds the id part of a written file name, well below the
// 255-byte limit of common file systems.
const maxNameBytes = 96

// WriteCorpus writes each doc of c as DIR/<name>.txt holding "Title\n\nText\n"
// (the title line is left out when empty), creating dir if needed, and returns
// a function that maps a written file's path back to its doc id.
//
// The name is the doc id when the id is made only of ASCII letters, digits,
// '-' and '_' and is short; otherwise odd characters become '_' and a hash of
// the id is appended after '~'. Names stay unique even on case-insensitive
// file systems, never start with '.', so rag's walker does not skip them as
// hidden, and avoid the names Windows reserves (CON, NUL, COM1 ...).
//
// docOf accepts the path with dir as given, its absolute form, or with
// symbolic links in dir resolved, since an ingest may record any of these.
func WriteCorpus(c *Collection, dir string) (docOf func(path string) (string, bool), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create corpus folder: %w", err)
	}
	used := make(map[string]bool, len(c.Docs)) // lower-case names taken
	byName := make(map[string]string, len(c.Docs))
	ids := make(map[string]bool, len(c.Docs))
	for _, d := range c.Docs {
		if ids[d.ID] {
			return nil, fmt.Errorf("write corpus: duplicate doc id %q", d.ID)
		}
		ids[d.ID] = true
		name := fileName(d.ID, used)
		used[strings.ToLower(name)] = true
		byName[name] = d.ID
		if err := os.WriteFile(filepath.Join(dir, name), docBody(d), 0o644); err != nil {
			return nil, fmt.Errorf("write doc %q: %w", d.ID, err)
		}
	}
	dirs := map[string]bool{filepath.Clean(dir): true}
	if abs, err := filepath.Abs(dir); err == nil {
		dirs[abs] = true
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dirs[real] = true
		if abs, err := filepath.Abs(real); err == nil {
			dirs[abs] = true
		}
	}
	return func(path string) (string, bool) {
		path = filepath.Clean(path)
		if !dirs[filepath.Dir(path)] {
			return "", false
		}
		id, ok := byName[filepath.Base(path)]
		return id, ok
	}, nil
}

// docBody is the file content for d.
func docBody(d Doc) []byte {
	var b strings.Builder
	if d.Title != "" {
		b.WriteString(d.Title)
		b.WriteByte('\n')
		if d.Text != "" {
			b.WriteByte('\n')
		}
	}
	if d.Text != "" {
		b.WriteString(d.Text)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// windowsReserved are base names Windows refuses whatever the extension.
var windowsReserved = map[string]bool{
	"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true,
	"com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true,
	"lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
}

// fileName returns a safe ".txt" file name for id that is not in used
// (compared in lower case).
func fileName(id string, used map[string]bool) string {
	var b strings.Builder
	clean := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
			clean = false
		}
	}
	base := b.String()
	if len(base) > maxNameBytes {
		base = base[:maxNameBytes]
		clean = false
	}
	if base == "" || windowsReserved[strings.ToLower(base)] {
		clean = false
	}
	name := base + ".txt"
	if clean && !used[strings.ToLower(name)] {
		return name
	}
	// '~' never appears in a clean name, so a hashed name cannot take a name
	// a later clean id needs, short of a hash collision, handled by counting.
	h := fnv.New64a()
	h.Write([]byte(id))
	stem := base + "~" + strconv.FormatUint(h.Sum64(), 36)
	name = stem + ".txt"
	for n := 2; used[strings.ToLower(name)]; n++ {
		name = stem + "-" + strconv.Itoa(n) + ".txt"
	}
	return name
}

// Ranking is one query's retrieved document ids, best first, each at most
// once.
type Ranking []string

// DocRanking turns a ranked list of chunk paths into a ranked list of unique
// doc ids: a document takes the rank of its best chunk (first occurrence
// wins), and paths docOf does not know are skipped.
func DocRanking(paths []string, docOf func(string) (string, bool)) Ranking {
	seen := make(map[string]bool, len(paths))
	r := make(Ranking, 0, len(paths))
	for _, p := range paths {
		id, ok := docOf(p)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		r = append(r, id)
	}
	return r
}

// PathID is the docOf for a collection from LoadQuestions, whose doc ids are
// absolute clean paths: it returns path made absolute and clean.
func PathID(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	return abs, true
}
