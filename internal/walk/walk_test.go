package walk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// makeTree creates files (slash paths relative to dir) with the given contents.
func makeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tempDir is t.TempDir resolved through symbolic links, as Walk reports paths.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}
}

// result is what one Walk call saw, with paths relative to the test folder.
type result struct {
	visited []string
	skipped map[string]string
	roots   map[string]string // visited path -> its Entry.Root
}

func run(t *testing.T, dir string, roots []string, opts Options) result {
	t.Helper()
	abs := make([]string, len(roots))
	for i, r := range roots {
		abs[i] = filepath.Join(dir, filepath.FromSlash(r))
	}
	rel := func(p string) string {
		if !filepath.IsAbs(p) {
			t.Errorf("path %q is not absolute", p)
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	res := result{skipped: map[string]string{}, roots: map[string]string{}}
	err := Walk(context.Background(), abs, opts, func(e Entry) error {
		res.visited = append(res.visited, rel(e.Path))
		res.roots[rel(e.Path)] = rel(e.Root)
		return nil
	}, func(s Skip) {
		if _, dup := res.skipped[rel(s.Path)]; dup {
			t.Errorf("%s reported twice", s.Path)
		}
		res.skipped[rel(s.Path)] = s.Reason
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return res
}

func TestWalk(t *testing.T) {
	bigLimit := int64(1 << 20)
	tests := []struct {
		name   string
		files  map[string]string
		setup  func(t *testing.T, dir string) // extra links and files
		roots  []string                       // relative to the test folder; default "."
		opts   Options
		want   []string          // visited, in order
		skips  map[string]string // path -> reason
		inRoot map[string]string // visited path -> Entry.Root, where checked
	}{
		{
			name: "hidden files and folders skipped silently",
			files: map[string]string{
				"a.txt": "a", ".hidden.txt": "h", ".obsidian/app.json": "{}",
				"sub/.cache/x.md": "x", "sub/b.md": "b",
			},
			want: []string{"a.txt", "sub/b.md"},
		},
		{
			name: "git and node_modules folders skipped",
			files: map[string]string{
				".git/config": "c", "node_modules/left-pad/index.js": "x",
				"web/node_modules/x/y.js": "y", "web/app.js": "app", "src/main.go": "package main",
			},
			want: []string{"src/main.go", "web/app.js"},
		},
		{
			name: "nested gitignore with negation, folder and anchored patterns",
			files: map[string]string{
				".gitignore":        "# build output\n*.log\n!keep.log\nbuild/\n/top.txt\ndocs/**/draft.md\n",
				"a.log":             "x",
				"keep.log":          "x",
				"build/out.txt":     "x",
				"sub/build/out.txt": "x",
				"build.txt":         "x",
				"top.txt":           "x",
				"sub/top.txt":       "x",
				"docs/draft.md":     "x",
				"docs/x/y/draft.md": "x",
				"docs/final.md":     "x",
				"sub/.gitignore":    "!a.log\n*.md\n",
				"sub/a.log":         "x",
				"sub/n.md":          "x",
				"n.md":              "x",
				"other/a.log":       "x",
			},
			want: []string{"build.txt", "docs/final.md", "keep.log", "n.md", "sub/a.log", "sub/top.txt"},
		},
		{
			name: "ragignore and ignore files, ragignore wins",
			files: map[string]string{
				".gitignore":     "notes.md\n",
				".ignore":        "scratch.txt\n",
				".ragignore":     "private/\n*.tmp\n!notes.md\n",
				"notes.md":       "x",
				"scratch.txt":    "x",
				"a.tmp":          "x",
				"private/p.md":   "x",
				"sub/private.md": "x",
				"sub/.ragignore": "private.md\r\n",
			},
			want: []string{"notes.md"},
		},
		{
			name:  "ignore files above the root are not read",
			files: map[string]string{".gitignore": "*.md\n", "root/a.md": "x"},
			roots: []string{"root"},
			want:  []string{"root/a.md"},
		},
		{
			name:  "hidden root is walked",
			files: map[string]string{".notes/a.md": "x", ".notes/.b.md": "x"},
			roots: []string{".notes"},
			want:  []string{".notes/a.md"},
		},
		{
			name:  "symbolic links to outside the root are reported, not followed",
			files: map[string]string{"root/a.txt": "a", "outside/o.txt": "o"},
			setup: func(t *testing.T, dir string) {
				symlink(t, filepath.Join(dir, "outside"), filepath.Join(dir, "root", "dirlink"))
				symlink(t, filepath.Join(dir, "outside", "o.txt"), filepath.Join(dir, "root", "filelink.txt"))
				symlink(t, filepath.Join(dir, "missing"), filepath.Join(dir, "root", "dangling"))
				symlink(t, filepath.Join(dir, "outside"), filepath.Join(dir, "root", ".hiddenlink"))
			},
			roots: []string{"root"},
			want:  []string{"root/a.txt"},
			skips: map[string]string{
				"root/dirlink":      "symbolic link",
				"root/filelink.txt": "symbolic link",
				"root/dangling":     "symbolic link",
			},
		},
		{
			name:  "symlinked root is resolved",
			files: map[string]string{"data/notes/a.md": "a"},
			setup: func(t *testing.T, dir string) {
				symlink(t, filepath.Join(dir, "data", "notes"), filepath.Join(dir, "notes"))
			},
			roots:  []string{"notes"},
			want:   []string{"data/notes/a.md"},
			inRoot: map[string]string{"data/notes/a.md": "data/notes"},
		},
		{
			name: "binary files skipped except extracted documents",
			files: map[string]string{
				"bin.dat":     "ab\x00cd",
				"doc.pdf":     "%PDF\x00\x01",
				"REPORT.DOCX": "PK\x00\x03",
				"text.txt":    "hello",
				"late.txt":    strings.Repeat("a", sniffSize) + "\x00",
				"empty.txt":   "",
			},
			want:  []string{"REPORT.DOCX", "doc.pdf", "empty.txt", "late.txt", "text.txt"},
			skips: map[string]string{"bin.dat": "binary file"},
		},
		{
			name: "secrets skipped and reported, even hidden ones",
			files: map[string]string{
				".env": "K=V", ".env.local": "K=V", "server.pem": "x", "tls.KEY": "x",
				"id_rsa": "x", "id_rsa.pub": "ssh-rsa", "id_ed25519": "x", "credentials": "x",
				"credentials.json": "{}", "service-account-prod.json": "{}", "vault.kdbx": "x",
				".netrc": "x", ".git-credentials": "x", "cert.p12": "x", "notes.md": "n",
			},
			want: []string{"id_rsa.pub", "notes.md"},
			skips: map[string]string{
				".env":                      "secret file (.env)",
				".env.local":                "secret file (.env.*)",
				"server.pem":                "secret file (*.pem)",
				"tls.KEY":                   "secret file (*.key)",
				"id_rsa":                    "secret file (id_rsa)",
				"id_ed25519":                "secret file (id_ed25519)",
				"credentials":               "secret file (credentials)",
				"credentials.json":          "secret file (credentials.json)",
				"service-account-prod.json": "secret file (service-account*.json)",
				"vault.kdbx":                "secret file (*.kdbx)",
				".netrc":                    "secret file (.netrc)",
				".git-credentials":          "secret file (.git-credentials)",
				"cert.p12":                  "secret file (*.p12)",
			},
		},
		{
			name:  "ignored secrets are not reported",
			files: map[string]string{".gitignore": ".env\n", ".env": "K=V", "a.md": "a"},
			want:  []string{"a.md"},
		},
		{
			name: "include overrides secret and hidden rules",
			files: map[string]string{
				".env": "K=V", ".env.example": "K=", "certs/ca.pem": "x", "certs/ca-old.pem": "x",
				".github/workflows/ci.yml": "on: push", ".github/workflows/notes.txt": "x",
				".github/dependabot.yml": "x", ".prettierrc": "{}",
			},
			opts: Options{Include: []string{".env.example", "*.pem", "!ca-old.pem", ".github/workflows/*.yml"}},
			want: []string{".env.example", ".github/workflows/ci.yml", "certs/ca.pem"},
			skips: map[string]string{
				".env":             "secret file (.env)",
				"certs/ca-old.pem": "secret file (*.pem)",
			},
		},
		{
			name:  "include of a hidden folder takes all of it",
			files: map[string]string{".config/app/a.toml": "x", ".config/b.toml": "x", ".other/c": "x"},
			opts:  Options{Include: []string{".config/"}},
			want:  []string{".config/app/a.toml", ".config/b.toml"},
		},
		{
			name:  "git folder stays out even when included",
			files: map[string]string{".git/HEAD": "ref", ".git/info/exclude": "x", "a.md": "x"},
			opts:  Options{Include: []string{".git/", ".git/**"}},
			want:  []string{"a.md"},
		},
		{
			name:  "include overrides ignore files",
			files: map[string]string{".gitignore": "*.gen.md\n", "a.gen.md": "x", "b.gen.md": "x"},
			opts:  Options{Include: []string{"a.gen.md"}},
			want:  []string{"a.gen.md"},
		},
		{
			name:  "files in a secret folder root are secrets",
			files: map[string]string{"home/.ssh/config": "Host x", "home/.ssh/known_hosts": "x"},
			roots: []string{"home/.ssh"},
			skips: map[string]string{
				"home/.ssh/config":      "secret file (.ssh/)",
				"home/.ssh/known_hosts": "secret file (.ssh/)",
			},
		},
		{
			name:  "files larger than the limit are reported",
			files: map[string]string{"small.txt": "x", "limit.txt": strings.Repeat("x", 1<<20)},
			setup: func(t *testing.T, dir string) {
				if err := os.Truncate(filepath.Join(dir, "limit.txt"), 1<<20); err != nil {
					t.Fatal(err)
				}
				f, err := os.Create(filepath.Join(dir, "big.txt"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := f.Truncate(1<<20 + 1); err != nil {
					t.Fatal(err)
				}
			},
			opts:  Options{MaxFileSize: bigLimit},
			want:  []string{"limit.txt", "small.txt"},
			skips: map[string]string{"big.txt": "larger than 1 MiB"},
		},
		{
			name: "sorted depth-first order",
			files: map[string]string{
				"b/c.txt": "x", "a.txt": "x", "b.txt": "x", "a/z.txt": "x", "A.txt": "x", "a/b/y.txt": "x",
			},
			want: []string{"A.txt", "a/b/y.txt", "a/z.txt", "a.txt", "b/c.txt", "b.txt"},
		},
		{
			name:  "overlapping roots visit each file once",
			files: map[string]string{"r/a.txt": "x", "r/sub/b.txt": "x", "r/sub/c.bin": "\x00"},
			roots: []string{"r/sub", "r", "r/sub/b.txt", "r/"},
			want:  []string{"r/sub/b.txt", "r/a.txt"},
			skips: map[string]string{"r/sub/c.bin": "binary file"},
		},
		{
			name:   "single file root",
			files:  map[string]string{"dir/a.md": "x", "dir/.hidden.md": "x", "dir/bin": "\x00"},
			roots:  []string{"dir/.hidden.md", "dir/bin"},
			want:   []string{"dir/.hidden.md"},
			skips:  map[string]string{"dir/bin": "binary file"},
			inRoot: map[string]string{"dir/.hidden.md": "dir/.hidden.md"},
		},
		{
			name:  "single secret file root",
			files: map[string]string{"prod.env": "x", ".env.prod": "x"},
			roots: []string{".env.prod"},
			skips: map[string]string{".env.prod": "secret file (.env.*)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			makeTree(t, dir, tt.files)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			roots := tt.roots
			if roots == nil {
				roots = []string{"."}
			}
			got := run(t, dir, roots, tt.opts)
			if len(got.visited)+len(tt.want) > 0 && !reflect.DeepEqual(got.visited, tt.want) {
				t.Errorf("visited\n got %q\nwant %q", got.visited, tt.want)
			}
			skips := tt.skips
			if skips == nil {
				skips = map[string]string{}
			}
			if !reflect.DeepEqual(got.skipped, skips) {
				t.Errorf("skipped\n got %q\nwant %q", got.skipped, skips)
			}
			for p, root := range tt.inRoot {
				if got.roots[p] != root {
					t.Errorf("Root of %s = %q, want %q", p, got.roots[p], root)
				}
			}
		})
	}
}

func TestWalkCancel(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b", "c/d.txt": "d"})

	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n := 0
		err := Walk(ctx, []string{dir}, Options{}, func(Entry) error { n++; return nil }, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if n != 0 {
			t.Errorf("visited %d files after cancellation", n)
		}
	})
	t.Run("during walk", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got []string
		err := Walk(ctx, []string{dir}, Options{}, func(e Entry) error {
			got = append(got, filepath.Base(e.Path))
			cancel()
			return nil
		}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if len(got) != 1 {
			t.Errorf("visited %q, want only the first file", got)
		}
	})
}

func TestWalkVisitError(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b"})
	stop := errors.New("stop")
	n := 0
	err := Walk(context.Background(), []string{dir}, Options{}, func(Entry) error { n++; return stop }, nil)
	if err != stop {
		t.Errorf("err = %v, want the visit error unchanged", err)
	}
	if n != 1 {
		t.Errorf("visit called %d times, want 1", n)
	}
}

func TestWalkMissingRoot(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"a.txt": "a"})
	dangling := filepath.Join(dir, "dangling")
	symlink(t, filepath.Join(dir, "nowhere"), dangling)
	for _, missing := range []string{filepath.Join(dir, "missing"), dangling} {
		t.Run(filepath.Base(missing), func(t *testing.T) {
			n := 0
			err := Walk(context.Background(), []string{dir, missing}, Options{}, func(Entry) error { n++; return nil }, nil)
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err = %v, want fs.ErrNotExist", err)
			}
			if n != 0 {
				t.Errorf("visited %d files before reporting the missing root", n)
			}
		})
	}
}

func TestWalkPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permissions do not apply to root")
	}
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"a.txt": "a", "locked/b.txt": "b", "secret.txt": "s", "z.txt": "z"})
	if err := os.Chmod(filepath.Join(dir, "secret.txt"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })

	got := run(t, dir, []string{"."}, Options{})
	if want := []string{"a.txt", "z.txt"}; !reflect.DeepEqual(got.visited, want) {
		t.Errorf("visited %q, want %q", got.visited, want)
	}
	want := map[string]string{"locked": "permission denied", "secret.txt": "permission denied"}
	if !reflect.DeepEqual(got.skipped, want) {
		t.Errorf("skipped %q, want %q", got.skipped, want)
	}
}

func TestIsBinary(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"empty", nil, false},
		{"text", []byte("hello, world\n"), false},
		{"utf-8", []byte("héllo wörld ✓"), false},
		{"nul", []byte("ab\x00cd"), true},
		{"utf-16 with a byte-order mark", []byte{0xff, 0xfe, 'h', 0, 'i', 0}, false},
		{"utf-16 without one", []byte{'h', 0, 'i', 0}, true},
		{"nul past 8 KiB", append(make([]byte, 0, sniffSize+1), append([]byte(strings.Repeat("a", sniffSize)), 0)...), false},
		{"nul at 8 KiB edge", append([]byte(strings.Repeat("a", sniffSize-1)), 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsBinary(tt.head); got != tt.want {
				t.Errorf("IsBinary = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{100, "100 bytes"},
		{1 << 10, "1 KiB"},
		{1536, "1.5 KiB"},
		{10 << 20, "10 MiB"},
		{3 << 19, "1.5 MiB"},
		{2 << 30, "2 GiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestPrefixMatch(t *testing.T) {
	tests := []struct {
		pattern string
		dir     string
		want    bool
	}{
		{".github/workflows/*.yml", ".github", true},
		{".github/workflows/*.yml", ".github/workflows", true},
		{".github/workflows/*.yml", ".gitlab", false},
		{".github/workflows/*.yml", ".github/workflows/old", false},
		{"**/.config/x", ".a/.b", true},
		{".config/**", ".config/a/b", true},
		{".*/notes.md", ".obsidian", true},
	}
	for _, tt := range tests {
		s := newIncludeSet([]string{tt.pattern})
		if got := s.mayContain(strings.Split(tt.dir, "/")); got != tt.want {
			t.Errorf("mayContain(%q, %q) = %v, want %v", tt.pattern, tt.dir, got, tt.want)
		}
	}
}

// BenchmarkWalk walks 10,000 small files: "sniff" opens each one, as a first
// ingest does; "unchanged" trusts Options.Unchanged, as a no-op re-ingest
// does, and only stats them.
func BenchmarkWalk(b *testing.B) {
	dir := tempDir(b)
	files := make(map[string]string, 10_000)
	for i := range 10_000 {
		files[fmt.Sprintf("d%02d/e%02d/f%04d.md", i/1000, i/100%10, i)] = "# note\n\nsome text\n"
	}
	files[".gitignore"] = "*.tmp\nbuild/\n"
	makeTree(b, dir, files)
	unchanged := func(string, int64, time.Time) bool { return true }
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"sniff", Options{MaxFileSize: 10 << 20}},
		{"unchanged", Options{MaxFileSize: 10 << 20, Unchanged: unchanged}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				n := 0
				err := Walk(context.Background(), []string{dir}, bc.opts, func(Entry) error { n++; return nil }, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n != 10_000 {
					b.Fatalf("visited %d files, want 10000", n)
				}
			}
			if used := cpuTime() - start; used > 0 {
				b.ReportMetric(float64(used.Milliseconds())/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

func TestWalkManyFilesKeepOrder(t *testing.T) {
	dir := tempDir(t)
	files := map[string]string{}
	var want []string
	wantSkips := map[string]string{}
	for i := range 200 {
		name := fmt.Sprintf("f%03d.txt", i)
		if i%7 == 0 {
			files[name] = "bin\x00"
			wantSkips[name] = "binary file"
			continue
		}
		files[name] = "text"
		want = append(want, name)
	}
	makeTree(t, dir, files)
	got := run(t, dir, []string{"."}, Options{})
	if !reflect.DeepEqual(got.visited, want) {
		t.Errorf("visited\n got %q\nwant %q", got.visited, want)
	}
	if !reflect.DeepEqual(got.skipped, wantSkips) {
		t.Errorf("skipped\n got %q\nwant %q", got.skipped, wantSkips)
	}
}

func TestWalkUnchangedSkipsSniff(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{"known.bin": "a\x00b", "new.bin": "a\x00b", "big.txt": "0123456789"})
	known := filepath.Join(dir, "known.bin")
	var mu sync.Mutex
	asked := map[string]int64{}
	opts := Options{
		MaxFileSize: 5,
		Unchanged: func(path string, size int64, modTime time.Time) bool {
			mu.Lock()
			defer mu.Unlock()
			asked[filepath.Base(path)] = size
			return path == known && !modTime.IsZero()
		},
	}
	got := run(t, dir, []string{"."}, opts)
	if want := []string{"known.bin"}; !reflect.DeepEqual(got.visited, want) {
		t.Errorf("visited %q, want %q", got.visited, want)
	}
	want := map[string]string{"new.bin": "binary file", "big.txt": "larger than 5 bytes"}
	if !reflect.DeepEqual(got.skipped, want) {
		t.Errorf("skipped %q, want %q", got.skipped, want)
	}
	// The size limit still applies to known files, before Unchanged is asked.
	if wantAsked := map[string]int64{"known.bin": 3, "new.bin": 3}; !reflect.DeepEqual(asked, wantAsked) {
		t.Errorf("Unchanged asked about %v, want %v", asked, wantAsked)
	}
}

// TestSkipKinds: every reported skip carries a kind callers can branch on,
// and only the cannot-read kinds say Unreadable.
func TestSkipKinds(t *testing.T) {
	dir := tempDir(t)
	makeTree(t, dir, map[string]string{
		"ok.md":   "fine",
		".env":    "KEY=1",
		"big.txt": strings.Repeat("x", 2000),
		"bin.dat": "a\x00b",
	})
	symlink(t, filepath.Join(dir, "ok.md"), filepath.Join(dir, "link.md"))
	got := map[string]SkipKind{}
	err := Walk(context.Background(), []string{dir}, Options{MaxFileSize: 1000}, func(Entry) error { return nil },
		func(s Skip) { got[filepath.Base(s.Path)] = s.Kind })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SkipKind{".env": SkipSecret, "big.txt": SkipTooLarge, "bin.dat": SkipBinary, "link.md": SkipSymlink}
	for name, k := range want {
		if got[name] != k {
			t.Errorf("%s: kind %d, want %d", name, got[name], k)
		}
		if k.Unreadable() {
			t.Errorf("%s: kind %d says unreadable", name, k)
		}
	}
	if !SkipPermission.Unreadable() || !SkipUnreadable.Unreadable() {
		t.Error("SkipPermission and SkipUnreadable must be Unreadable")
	}
}
