package weaviate

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// The store URL's gRPC endpoint becomes the configuration: defaulted
// (HOST:50051, REST when it does not answer), named (required), or off.
func TestGRPCFromLocation(t *testing.T) {
	for _, tc := range []struct {
		url      string
		host     string
		required bool
	}{
		{"weaviate://db:8080/Docs", "db:50051", false},
		{"weaviate://db/Docs", "db:50051", false},
		{"weaviate://db:9000/Docs", "", false}, // db:50051 may be another server's
		{"weaviate://db:8080/Docs?grpc=db:6000", "db:6000", true},
		{"weaviate://db:8080/Docs?grpc=off", "", false},
		{"weaviates://db/Docs", "db:50051", false},
	} {
		l, err := store.ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := FromLocation(l)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.GRPCHost != tc.host || cfg.GRPCRequired != tc.required {
			t.Errorf("%s: gRPC %q required %v, want %q %v", tc.url, cfg.GRPCHost, cfg.GRPCRequired, tc.host, tc.required)
		}
	}
}

// An object goes over gRPC with its scalars, its lists (an empty one named
// as empty, since gRPC cannot type it) and its vector as little-endian
// float32 bytes.
func TestBatchObject(t *testing.T) {
	o := Chunk{ID: "5f0c4a4e-0000-8000-8000-000000000001", Path: "a.md", Ordinal: 3, Text: "x", Headings: []string{"H1", "H2"},
		Vector: []float32{0.5, -0.25, float32(math.Pi)}}.object("RagChunks")
	bo, err := batchObject(o)
	if err != nil {
		t.Fatal(err)
	}
	if bo.Uuid != string(o.ID) || bo.Collection != "RagChunks" {
		t.Errorf("uuid %s collection %s", bo.Uuid, bo.Collection)
	}
	if len(bo.VectorBytes) != 12 || math.Float32frombits(binary.LittleEndian.Uint32(bo.VectorBytes[8:])) != float32(math.Pi) {
		t.Errorf("vector bytes %v", bo.VectorBytes)
	}
	f := bo.Properties.NonRefProperties.GetFields()
	if f["path"].GetStringValue() != "a.md" || f["ordinal"].GetNumberValue() != 3 || f["pending"].GetBoolValue() {
		t.Errorf("scalars %v", f)
	}
	if l := bo.Properties.TextArrayProperties; len(l) != 1 || l[0].PropName != "headings" || strings.Join(l[0].Values, "/") != "H1/H2" {
		t.Errorf("lists %v", l)
	}
	pending, err := batchObject(File{Path: "b.md"}.object("RagFiles"))
	if err != nil {
		t.Fatal(err)
	}
	if pending.VectorBytes != nil || strings.Join(pending.Properties.EmptyListProps, ",") != "chunks" {
		t.Errorf("a record without chunks: vector %v, empty lists %v", pending.VectorBytes, pending.Properties.EmptyListProps)
	}
	// A stored copy as a REST read decodes it, which the cut-log repair
	// writes back.
	read, err := batchObject(&models.Object{ID: strfmt.UUID("y"), Properties: map[string]any{
		"headings": []any{"A", "B"}, "chunks": []any{}, "ordinal": json.Number("7"), "anchor": nil}})
	if err != nil {
		t.Fatal(err)
	}
	if l := read.Properties.TextArrayProperties; len(l) != 1 || strings.Join(l[0].Values, "/") != "A/B" ||
		strings.Join(read.Properties.EmptyListProps, ",") != "chunks" || read.Properties.NonRefProperties.GetFields()["ordinal"].GetNumberValue() != 7 {
		t.Errorf("a decoded copy: %v", read.Properties)
	}
	if _, err := batchObject(&models.Object{ID: strfmt.UUID("x"), Properties: map[string]any{"n": []int{1}}}); err == nil {
		t.Error("a property of a type rag never writes was accepted")
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Batches go over gRPC when the endpoint answers; a defaulted endpoint
// that does not answer while REST does is given up for REST (and says
// why); a named one is retried (a starting node answers REST first), then
// a *GRPCError with a hint, not a store.ErrUnavailable; and the objects
// written either way read back the same.
func TestGRPCOrREST(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	ctx := context.Background()
	put := func(c *Client, path string) error {
		return c.PutChunks(ctx, withIDs([]Chunk{chunk(path, 0, "hello over "+path, unit(1, 0))}))
	}

	grpc := open(t, n, Config{Base: "Transport"})
	if err := grpc.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := put(grpc, "grpc.md"); err != nil {
		t.Fatal(err)
	}
	if tr, why := grpc.Transport(); tr != TransportGRPC {
		t.Errorf("with the node's gRPC endpoint, batches went over %s (%s)", tr, why)
	}

	bad := closedAddr(t)
	fallback := open(t, n, Config{Base: "Transport", GRPCHost: bad})
	if err := put(fallback, "rest.md"); err != nil {
		t.Fatal(err)
	}
	if tr, why := fallback.Transport(); tr != TransportREST || !strings.Contains(why, bad) {
		t.Errorf("a defaulted gRPC endpoint that does not answer: %s (%q), want rest, saying why", tr, why)
	}

	var tries atomic.Int64
	required := open(t, n, Config{Base: "Transport", GRPCHost: bad, GRPCRequired: true,
		Retry: retry.Policy{Initial: 100 * time.Millisecond, Budget: time.Second, OnRetry: func(int, error, time.Duration) { tries.Add(1) }}})
	err := put(required, "never.md")
	var ge *GRPCError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), bad) || !strings.Contains(ge.Hint(), "grpc=off") {
		t.Fatalf("a named gRPC endpoint that does not answer: %v, want a *GRPCError naming %s with a hint", err, bad)
	}
	if errors.Is(err, store.ErrUnavailable) || tries.Load() == 0 {
		t.Errorf("a wrong gRPC endpoint: %d retries, unavailable %v: %v", tries.Load(), errors.Is(err, store.ErrUnavailable), err)
	}

	got, err := grpc.Chunks(ctx, []string{ChunkUUID("grpc.md", 0, "hello over grpc.md"), ChunkUUID("rest.md", 0, "hello over rest.md"),
		ChunkUUID("never.md", 0, "hello over never.md")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "grpc.md" || got[1].Path != "rest.md" || len(got[0].Vector) != 2 || got[0].Vector[0] != 1 {
		t.Errorf("read back %+v, want the gRPC and the REST chunk with their vectors", got)
	}
}
