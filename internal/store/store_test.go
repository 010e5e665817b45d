package store

import (
	"cmp"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestChunkIDDeterministic(t *testing.T) {
	a := ChunkID("/notes/a.md", 0, "hello")
	if a != ChunkID("/notes/a.md", 0, "hello") {
		t.Fatal("the same chunk got two ids")
	}
	for name, other := range map[string]uint64{
		"another path":  ChunkID("/notes/b.md", 0, "hello"),
		"another place": ChunkID("/notes/a.md", 1, "hello"),
		"another text":  ChunkID("/notes/a.md", 0, "hello!"),
		// The separators keep the fields apart: "a" + "1" is not "a1" + "".
		"shifted fields": ChunkID("/notes/a.md0", 0, "hello"),
		"file record":    FileID("/notes/a.md"),
	} {
		if other == a {
			t.Errorf("%s: same id %d", name, a)
		}
	}
	// Ids travel through JSON clients that hold numbers as float64.
	for _, id := range []uint64{a, FileID("/notes/a.md"), ChunkID("/x", 7, strings.Repeat("z", 100))} {
		if id>>53 != 0 || id == 0 || uint64(float64(id)) != id {
			t.Errorf("id %d is 0 or not exact as a JSON number (float64)", id)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDRoundTrip(t *testing.T) {
	for _, id := range []uint64{1, 42, ChunkID("/x", 3, "y"), 1<<62 - 1} {
		for _, kind := range []byte{KindChunk, KindFile, KindMeta} {
			u := UUID(kind, id)
			if !uuidRE.MatchString(u) {
				t.Errorf("UUID(%c, %d) = %s: not an RFC 9562 version-8 UUID", kind, id, u)
			}
			k, got, ok := ParseUUID(u)
			if !ok || k != kind || got != id {
				t.Errorf("ParseUUID(%s) = %c, %d, %v; want %c, %d", u, k, got, ok, kind, id)
			}
			if _, _, ok := ParseUUID(strings.ToUpper(u)[:35] + "x"); ok {
				t.Errorf("a broken UUID parsed")
			}
		}
	}
	if _, _, ok := ParseUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"); ok {
		t.Error("a UUID that is not rag's parsed as one")
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
		grpc          string // the gRPC endpoint, when the case checks it
		https         bool
	}{
		{in: "", want: ""},
		{in: "weaviate://127.0.0.1:8080", want: "weaviate://127.0.0.1:8080/Rag"},
		{in: "weaviate://localhost/docs", want: "weaviate://localhost:8080/Docs"},
		{in: "weaviates://db.example.com/Team_1", want: "weaviates://db.example.com:443/Team_1", https: true},
		{in: "weaviate://h:9000/C?grpc=h:9001", want: "weaviate://h:9000/C?grpc=h:9001", grpc: "h:9001"},
		{in: "weaviate://h:9000/C", want: "weaviate://h:9000/C", grpc: "off"},
		{in: "weaviate://h/C", want: "weaviate://h:8080/C", grpc: "h:50051"},
		{in: "weaviates://h:443/C", want: "weaviates://h:443/C", grpc: "h:50051", https: true},
		{in: "weaviate://h:9000/C?grpc=h:50051", want: "weaviate://h:9000/C?grpc=h:50051", grpc: "h:50051"},
		{in: "weaviate://h:9000/C?grpc=off", want: "weaviate://h:9000/C?grpc=off", grpc: "off"},
		{in: "weaviate://[::1]:8080/C", want: "weaviate://[::1]:8080/C"},
		{in: "weaviate://user:secret@h:8080/C", err: "put the API key in RAG_WEAVIATE_API_KEY"},
		{in: "http://h:8080", err: "unknown scheme"},
		{in: "/some/dir", err: "not a URL"},
		{in: "weaviate:///C", err: "no host"},
		{in: "weaviate://h/a-b", err: "must be ASCII letters"},
		{in: "weaviate://h/C?x=1", err: "unknown parameter"},
		{in: "weaviate://h/C?grpc=nope", err: "not HOST:PORT"},
	} {
		l, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) error %v, want one with %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseURL(%q) error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if l.String() != tc.want || l.HTTPS() != tc.https || l.Local() != (tc.in == "") {
			t.Errorf("ParseURL(%q) = %s (https %v), want %s (https %v)", tc.in, l, l.HTTPS(), tc.want, tc.https)
		}
		if grpc := cmp.Or(l.GRPCHost, "off"); tc.grpc != "" && grpc != tc.grpc {
			t.Errorf("ParseURL(%q) gRPC endpoint %s, want %s", tc.in, grpc, tc.grpc)
		}
		if again, err := ParseURL(l.String()); err != nil || again != l {
			t.Errorf("ParseURL(%q) = %+v, but its String parses as %+v (%v)", tc.in, l, again, err)
		}
	}
}

func TestUnsupportedError(t *testing.T) {
	err := error(&UnsupportedError{Store: "weaviate://h:8080/Rag", What: "run rag check"})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Error("an UnsupportedError is not an errors.ErrUnsupported")
	}
	if got := err.Error(); got != "weaviate://h:8080/Rag cannot run rag check" {
		t.Errorf("message %q", got)
	}
}
