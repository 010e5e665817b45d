package index

import (
	"fmt"
	"testing"
	"time"
)

func TestListRootsAndFiles(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	b := &Batch{
		Puts:  []Put{put("a.md", 3, 1, true), put("sub/b.md", 2, 2, false), put("sub/c.md", 1, 3, true)},
		Roots: []Root{{Path: "/docs", IsDir: true}, {Path: "/docs/sub", IsDir: true}},
	}
	// Paths that share a prefix with a root but lie outside it.
	other := put("x.md", 4, 4, true)
	other.File.Path = "/docs-old/x.md"
	sibling := put("y.md", 1, 5, true)
	sibling.File.Path = "/docs/sub0.md"
	b.Puts = append(b.Puts, other, sibling)
	b.Roots = append(b.Roots, Root{Path: "/docs-old/x.md"})
	commit(t, w, b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	roots, err := r.ListRoots()
	if err != nil {
		t.Fatal(err)
	}
	want := []RootListing{
		{Path: "/docs", IsDir: true, Files: 4, Chunks: 7, Pending: 2},
		{Path: "/docs-old/x.md", Files: 1, Chunks: 4},
		{Path: "/docs/sub", IsDir: true, Files: 2, Chunks: 3, Pending: 2},
	}
	if fmt.Sprint(roots) != fmt.Sprint(want) {
		t.Errorf("ListRoots =\n%v\nwant\n%v", roots, want)
	}

	tests := []struct {
		path string
		want []string // path:chunks/pending
	}{
		{"/docs/sub", []string{"/docs/sub/b.md:2/2", "/docs/sub/c.md:1/0"}},
		{"/docs/sub/", []string{"/docs/sub/b.md:2/2", "/docs/sub/c.md:1/0"}},
		{"/docs/a.md", []string{"/docs/a.md:3/0"}},
		{"/docs", []string{"/docs/a.md:3/0", "/docs/sub/b.md:2/2", "/docs/sub/c.md:1/0", "/docs/sub0.md:1/0"}},
		{"/", []string{"/docs-old/x.md:4/0", "/docs/a.md:3/0", "/docs/sub/b.md:2/2", "/docs/sub/c.md:1/0", "/docs/sub0.md:1/0"}},
		{"/nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			files, err := r.ListFiles(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if files == nil {
				t.Fatal("ListFiles returned nil, want an empty list")
			}
			var got []string
			for _, f := range files {
				got = append(got, fmt.Sprintf("%s:%d/%d", f.Path, f.Chunks, f.Pending))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ListFiles(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
	files, _ := r.ListFiles("/docs/a.md")
	if f := files[0]; f.Size != 300 || !f.ModTime.Equal(time.Unix(0, 1)) {
		t.Errorf("a.md: size %d, modified %v; want 300, %v", f.Size, f.ModTime, time.Unix(0, 1))
	}
}
