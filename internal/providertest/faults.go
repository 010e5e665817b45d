// Package providertest is the one conformance suite every embed.Embedder and
// every llm.Client of rag passes (Ollama, OpenAI-compatible, Cohere), run
// against each provider's fake server: batching, prefixes or input types, an
// over-long input, 401, a missing model, 429 with Retry-After, 500 then
// success, a hang, streaming, cancellation, and that no API key appears in any
// error or output.
//
// The faults are injected by [Faults], an HTTP middleware in front of the
// fake, so every provider is tried with the same faults; the fake itself
// speaks its API's real request and response shapes and error bodies. It does
// not test retrieval quality or any real model.
package providertest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Request is one request the middleware saw.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	At     time.Time
}

type fault struct {
	status int
	header http.Header
	body   string
	n      int
}

// Faults is an HTTP middleware that records every request and answers the
// faults tests ask for before the wrapped handler sees the request.
type Faults struct {
	next http.Handler
	done chan struct{}

	mu     sync.Mutex
	reqs   []Request
	faults map[string][]fault
	hangs  map[string]bool
}

// NewFaults wraps next.
func NewFaults(next http.Handler) *Faults {
	return &Faults{next: next, done: make(chan struct{}), faults: map[string][]fault{}, hangs: map[string]bool{}}
}

// Serve starts an HTTP server on 127.0.0.1 for f, closed when the test ends.
// It returns the server's URL.
func (f *Faults) Serve(t testing.TB) string {
	ts := httptest.NewServer(f)
	t.Cleanup(func() {
		close(f.done)
		ts.Close()
	})
	return ts.URL
}

// Proxy returns a Faults in front of the server at upstream (another fake
// that cannot inject these faults itself).
func Proxy(upstream string) *Faults {
	u, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // stream at once
	return NewFaults(rp)
}

// FailNext makes the next n requests to path answer status with header and
// body. Calls queue up in order.
func (f *Faults) FailNext(path string, status int, header http.Header, body string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[path] = append(f.faults[path], fault{status: status, header: header, body: body, n: n})
}

// Hang makes requests to path wait without an answer until the client gives
// up or the server closes (on), or stops that (off).
func (f *Faults) Hang(path string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hangs[path] = on
}

// Requests returns the requests seen so far for path ("" for all).
func (f *Faults) Requests(path string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.reqs {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the recorded requests.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = nil
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	f.mu.Lock()
	f.reqs = append(f.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()})
	hang := f.hangs[r.URL.Path]
	var ft *fault
	if q := f.faults[r.URL.Path]; len(q) > 0 {
		c := q[0]
		ft = &c
		if q[0].n--; q[0].n <= 0 {
			f.faults[r.URL.Path] = q[1:]
		}
	}
	f.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
		return
	}
	if ft != nil {
		for k, v := range ft.header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(ft.status)
		io.WriteString(w, ft.body)
		return
	}
	f.next.ServeHTTP(w, r)
}
