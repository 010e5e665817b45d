package server_test

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/server"
)

// TestVectorLegRecovers: a Service opened while the embedding server is
// down (nothing listens on its port) answers hybrid searches from the
// lexical leg, saying so, and gets its vector leg back within seconds of the
// server coming up, without reopening the index.
func TestVectorLegRecovers(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections are refused
	c, err := ollama.New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.Embedder = func(model string) embed.Embedder { return &ollama.Embedder{Client: c, Name: model} }
	svc, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	req := server.SearchRequest{Query: "rotate the signing key", K: 3}
	for range 3 {
		out, err := svc.Search(t.Context(), req)
		if err != nil {
			t.Fatalf("search with the server down: %v", err)
		}
		if !out.Degraded || len(out.Warnings) == 0 || !strings.Contains(out.Warnings[0], "lexical leg alone") || len(out.Results) == 0 {
			t.Fatalf("with the server down: %+v; want lexical results and a warning", out)
		}
	}

	// Up: the same address now leads to the fake Ollama.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	target, _ := url.Parse(f.fake.URL)
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go srv.Serve(ln)
	defer srv.Close()
	before := f.fake.Calls("/api/embed")
	deadline := time.Now().Add(15 * time.Second)
	var out *server.SearchResponse
	for {
		if out, err = svc.Search(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if !out.Degraded || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out.Degraded || len(out.Warnings) != 0 {
		t.Fatalf("15 s after the server came up: %+v; want the vector leg back", out)
	}
	if f.fake.Calls("/api/embed") == before {
		t.Error("the recovered search never reached the embedding server")
	}
	if n := svc.Reloads(); n != 0 {
		t.Errorf("%d reloads: the vector leg must come back without reopening the index", n)
	}
}
