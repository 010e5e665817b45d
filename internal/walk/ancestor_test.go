package walk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestAncestorIgnoresInsideRepository guards that walking a subfolder of a git
// repository leaves out what the repository's higher ignore files exclude, as
// walking the whole repository does, and that outside a repository nothing
// above the root is read.
func TestAncestorIgnoresInsideRepository(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo bool
		want []string
	}{
		{"inside a repository", true, []string{"keep.md"}},
		{"outside a repository", false, []string{"a.tmp", "draft.md", "keep.md"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			if tc.repo {
				if err := os.Mkdir(filepath.Join(top, ".git"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string]string{
				".gitignore":          "sub/deeper/draft.md\n",
				".ragignore":          "*.tmp\n",
				"sub/deeper/a.tmp":    "x",
				"sub/deeper/draft.md": "x",
				"sub/deeper/keep.md":  "x",
			}
			for p, body := range files {
				full := filepath.Join(top, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			err := Walk(context.Background(), []string{filepath.Join(top, "sub", "deeper")}, Options{}, func(e Entry) error {
				got = append(got, filepath.Base(e.Path))
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if len(got) != len(want) {
				t.Fatalf("walked %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("walked %v, want %v", got, want)
				}
			}
		})
	}
}
