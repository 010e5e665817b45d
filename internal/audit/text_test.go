package audit

import (
	"slices"
	"strings"
	"testing"
)

func TestMaskedReadsStatementsAlike(t *testing.T) {
	tests := []struct{ a, b string }{
		{"The default timeout is 10s.", "The default timeout is 30s."},
		{"Retries are enabled.", "Retries are not enabled."},
		{"Retries are enabled in v1.2.3", "Retries are not enabled in v1.4"},
		{"Released on 2024-05-01.", "Released on 2023-01-09."},
	}
	for _, tt := range tests {
		a, b := strings.Join(masked(tt.a), " "), strings.Join(masked(tt.b), " ")
		if a != b {
			t.Errorf("masked(%q) = %q, masked(%q) = %q; want equal", tt.a, a, tt.b, b)
		}
	}
}

func TestDifferences(t *testing.T) {
	tests := []struct {
		a, b string
		want []string
	}{
		{"The default timeout is 10s.", "The default timeout is 30s.", []string{"10s / 30s"}},
		{"The default timeout is 10s.", "the default timeout is 10s", nil},
		{"Retries are enabled.", "Retries are not enabled.", []string{"negated in one only"}},
		{"Retries are not enabled.", "Retries are never, not ever, enabled.", []string{"negated in one only"}},
		{"Retries aren't enabled.", "Retries are not enabled.", nil},
		{"Use port 8080 (or 9090).", "Use port 8080.", []string{"9090 / -"}},
		{"Install v2.1.0 now.", "Install v2.3.0 now.", []string{"v2.1.0 / v2.3.0"}},
	}
	for _, tt := range tests {
		got := differences(factsOf(tt.a), factsOf(tt.b))
		if !slices.Equal(got, tt.want) {
			t.Errorf("differences(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNewestVersion(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"from v1.2 to v1.10", "v1.10"},
		{"released 2023, patched 2025", "2025"},
		{"on 2024-05-01 and 2024-11-30", "2024-11-30"},
		{"a timeout of 10s and 30 retries", ""},
		{"version 3.0.1 replaces 2.9", "3.0.1"},
	}
	for _, tt := range tests {
		if got, _ := newestVersion(factsOf(tt.text)); got != tt.want {
			t.Errorf("newestVersion(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestShinglesAndJaccard(t *testing.T) {
	a := shingles(words("the quick brown fox jumps"))
	b := shingles(words("the quick brown fox sleeps"))
	if len(a) != 3 {
		t.Fatalf("3-shingles of 5 words: got %d", len(a))
	}
	if got := jaccard(a, b); got != 0.5 {
		t.Errorf("jaccard = %v, want 2/4", got)
	}
	if got := shingles(words("hi there")); len(got) != 1 || !got["hi there"] {
		t.Errorf("a text shorter than a shingle is one shingle: %v", got)
	}
}
