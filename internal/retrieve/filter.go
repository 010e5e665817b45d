package retrieve

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// pathFilter keeps the files a Query's Paths name.
type pathFilter struct {
	prefixes []string
	globs    []*regexp.Regexp
	base     []bool // glob i has no slash: it matches the file's name
}

// MatchPath reports whether a file path matches one entry of a Query's
// Paths. An entry with none of * ? [ is a folder or file: it matches itself
// and everything below it. Any other entry is a glob: * and ? match within
// one path element, ** across elements, [...] a class ([!...] negated); a
// glob without a slash is matched against the file's name, like *.md.
func MatchPath(paths []string, file string) (bool, error) {
	f, err := compileFilter(paths)
	if err != nil || f == nil {
		return f == nil && err == nil, err
	}
	return f.match(file), nil
}

func compileFilter(paths []string) (*pathFilter, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	f := &pathFilter{}
	for _, p := range paths {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !strings.ContainsAny(p, "*?[") {
			f.prefixes = append(f.prefixes, strings.TrimSuffix(p, "/"))
			continue
		}
		re, err := globRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("path filter %q: %w", p, err)
		}
		f.globs = append(f.globs, re)
		f.base = append(f.base, !strings.Contains(p, "/"))
	}
	if len(f.prefixes) == 0 && len(f.globs) == 0 {
		return nil, nil
	}
	return f, nil
}

func (f *pathFilter) match(file string) bool {
	for _, p := range f.prefixes {
		if file == p || strings.HasPrefix(file, p+"/") || p == "" {
			return true
		}
	}
	for i, re := range f.globs {
		s := file
		if f.base[i] {
			s = path.Base(file)
		}
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// globRegexp translates a glob into an anchored regular expression.
func globRegexp(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				if i+1 < len(g) && g[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?") // **/ also matches no folder at all
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(g[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			class := g[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
