package walk

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// ignoreFiles are read in each folder, lowest priority first: as in ripgrep,
// a tool-specific file can override what .gitignore says.
var ignoreFiles = []string{".gitignore", ".ignore", ".ragignore"}

// parseIgnore turns the text of an ignore file found in the folder domain
// (components relative to the root) into patterns, in file order.
func parseIgnore(data []byte, domain []string) []gitignore.Pattern {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

// readIgnores reads the ignore files among a folder's entries. Only regular
// files count: an ignore file that is a symbolic link is not followed. An
// ignore file that cannot be read is treated as empty.
func readIgnores(dir string, entries []os.DirEntry, domain []string) []gitignore.Pattern {
	var found [3]bool
	some := false
	for _, e := range entries {
		for i, name := range ignoreFiles {
			if e.Name() == name && e.Type().IsRegular() {
				found[i], some = true, true
			}
		}
	}
	if !some {
		return nil
	}
	var ps []gitignore.Pattern
	for i, name := range ignoreFiles {
		if !found[i] {
			continue
		}
		data, err := os.ReadFile(dir + string(os.PathSeparator) + name)
		if err != nil {
			continue
		}
		ps = append(ps, parseIgnore(data, domain)...)
	}
	return ps
}

// matchStack reports whether the last pattern in ps that matches the path
// (components relative to the root) excludes it. Later patterns win, so a
// deeper ignore file and a later line override earlier ones, and a "!"
// pattern re-includes what an earlier one excluded.
func matchStack(ps []gitignore.Pattern, rel []string, isDir bool) bool {
	for i := len(ps) - 1; i >= 0; i-- {
		if m := ps[i].Match(rel, isDir); m != gitignore.NoMatch {
			return m == gitignore.Exclude
		}
	}
	return false
}

// includeSet holds the user's Include patterns, matched relative to the root
// being walked.
type includeSet struct {
	raw      []string
	patterns []gitignore.Pattern
}

func newIncludeSet(raw []string) *includeSet {
	s := &includeSet{}
	for _, p := range raw {
		if strings.TrimSpace(p) == "" {
			continue
		}
		s.raw = append(s.raw, p)
		s.patterns = append(s.patterns, gitignore.ParsePattern(p, nil))
	}
	return s
}

// match reports whether the user explicitly included the path. As in an
// ignore file, the last matching pattern decides, so "!x" can take back part
// of an earlier pattern.
func (s *includeSet) match(rel []string, isDir bool) bool {
	return len(s.patterns) > 0 && matchStack(s.patterns, rel, isDir)
}

// mayContain reports whether an Include pattern with a folder part could
// match something below the folder rel, such as ".github/workflows/*.yml"
// below ".github". It lets the walk enter a hidden folder only to look for
// the files the user named.
func (s *includeSet) mayContain(rel []string) bool {
	for _, p := range s.raw {
		if strings.HasPrefix(p, "!") {
			continue
		}
		parts := strings.Split(strings.Trim(p, "/"), "/")
		if len(parts) < 2 {
			continue // a bare name matches at any depth; match already tried it
		}
		if prefixMatch(parts, rel) {
			return true
		}
	}
	return false
}

// prefixMatch reports whether the folder path rel could be a proper prefix of
// a path the pattern parts match.
func prefixMatch(parts, rel []string) bool {
	for i, name := range rel {
		if i < len(parts) && parts[i] == "**" {
			return true
		}
		if i >= len(parts)-1 {
			return false // the last part names the file itself
		}
		if ok, _ := path.Match(parts[i], name); !ok {
			return false
		}
	}
	return true
}

// prefixed is an ignore pattern from a folder above the root being walked:
// it matches paths relative to that folder, so the root's own path below it
// is put in front of the path being matched.
type prefixed struct {
	prefix []string
	p      gitignore.Pattern
}

func (p prefixed) Match(path []string, isDir bool) gitignore.MatchResult {
	full := make([]string, 0, len(p.prefix)+len(path))
	return p.p.Match(append(append(full, p.prefix...), path...), isDir)
}

// ancestorIgnores reads the ignore files of the folders above root, up to the
// top of the git repository that holds it, as git and ripgrep apply them, so
// that walking a subfolder leaves out what walking the whole repository does.
// Outside a repository nothing above the root is read: a stray ~/.gitignore
// must not hide a user's notes. Lowest priority (farthest folder) first.
func ancestorIgnores(root string) []gitignore.Pattern {
	if isRepo(root) {
		return nil
	}
	var dirs []string // nearest first
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if isRepo(d) {
			break
		}
		if filepath.Dir(d) == d {
			return nil // no repository above: read nothing
		}
	}
	var ps []gitignore.Pattern
	for i := len(dirs) - 1; i >= 0; i-- {
		rel, err := filepath.Rel(dirs[i], root)
		if err != nil {
			continue
		}
		prefix := strings.Split(filepath.ToSlash(rel), "/")
		for _, name := range ignoreFiles {
			data, err := os.ReadFile(filepath.Join(dirs[i], name))
			if err != nil {
				continue
			}
			for _, p := range parseIgnore(data, nil) {
				ps = append(ps, prefixed{prefix: prefix, p: p})
			}
		}
	}
	return ps
}

func isRepo(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".git"))
	return err == nil
}
