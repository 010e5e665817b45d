// Package weaviatetest runs real Weaviate servers for tests: a single node or
// a cluster of nodes on loopback, each with its own ports and data folder,
// killed with its process group when the test ends.
//
// The server is Weaviate v1.35.2 built from the Go module proxy copy of
// github.com/weaviate/weaviate (cmd/weaviate-server) and cached under
// ${RAG_TEST_CACHE:-$HOME/.cache/rag-test}/weaviate-1.35.2, never in the
// repository. Building takes about 6 minutes on 2 cores, so it happens only
// when asked for: RAG_TEST_WEAVIATE=1 (make test-weaviate) builds or reuses
// the cached binary, RAG_TEST_WEAVIATE_BIN names a prebuilt one. Without
// either, or when the build fails, tests that need a server skip and say why;
// RAG_TEST_WEAVIATE=require makes that a failure instead (for CI). `make
// test` never needs Weaviate.
//
// The package does not talk to Weaviate beyond its readiness and node-status
// endpoints; rag's client is package weaviate.
package weaviatetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// Version is the Weaviate release the tests run against.
const Version = "1.35.2"

// module is the Go module whose cmd/weaviate-server is built.
const module = "github.com/weaviate/weaviate"

// CacheDir is where the built server is kept between runs:
// ${RAG_TEST_CACHE:-$HOME/.cache/rag-test}.
func CacheDir() string {
	if d := os.Getenv("RAG_TEST_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "rag-test")
	}
	return filepath.Join(home, ".cache", "rag-test")
}

// CachedBinary is the path of the cached server binary, built or not.
func CachedBinary() string {
	return filepath.Join(CacheDir(), "weaviate-"+Version)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the server binary to run: $RAG_TEST_WEAVIATE_BIN, or the
// cached build, built first when RAG_TEST_WEAVIATE is set. The error says why
// there is none; it is computed once per test binary.
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = findOrBuild() })
	return binPath, binErr
}

// ErrNotRequested is returned by Binary when neither RAG_TEST_WEAVIATE nor
// RAG_TEST_WEAVIATE_BIN is set.
var ErrNotRequested = errors.New("set RAG_TEST_WEAVIATE=1 (make test-weaviate) or RAG_TEST_WEAVIATE_BIN to test against a real Weaviate " + Version)

func findOrBuild() (string, error) {
	if p := os.Getenv("RAG_TEST_WEAVIATE_BIN"); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("RAG_TEST_WEAVIATE_BIN=%s is not an executable file", p)
		}
		return p, nil
	}
	if os.Getenv("RAG_TEST_WEAVIATE") == "" {
		return "", ErrNotRequested
	}
	return Build()
}

// Build returns the cached binary, building it first if it is not there.
// Concurrent test binaries (go test ./... runs packages in parallel) wait
// for one build through a lock file beside the cache.
func Build() (string, error) {
	bin := CachedBinary()
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(CacheDir(), 0o755); err != nil {
		return "", err
	}
	lock := flock.New(bin + ".lock")
	if err := lock.Lock(); err != nil {
		return "", fmt.Errorf("lock the Weaviate build: %w", err)
	}
	defer lock.Unlock()
	if isExecutable(bin) { // built by another process while we waited
		return bin, nil
	}
	logPath := filepath.Join(CacheDir(), "weaviate-build.log")
	log, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer log.Close()
	start := time.Now()
	fmt.Fprintf(os.Stderr, "weaviatetest: building Weaviate %s into %s (about 6 minutes on 2 cores; log %s)\n", Version, bin, logPath)
	if err := build(bin+".tmp", log); err != nil {
		return "", fmt.Errorf("build Weaviate %s: %v (see %s)", Version, err, logPath)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "weaviatetest: built %s in %s\n", bin, time.Since(start).Round(time.Second))
	return bin, nil
}

// build downloads the module (no replace directives, but `go install
// module@version` of a server this size is slower to diagnose than a plain
// build in the module's folder) and builds its server command. CGO is off:
// the server needs none of it, and a static binary runs anywhere.
func build(out string, log *os.File) error {
	tmp := os.TempDir()
	dl := exec.Command("go", "mod", "download", "-json", module+"@v"+Version)
	dl.Dir = tmp
	dl.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stdout bytes.Buffer
	dl.Stdout, dl.Stderr = &stdout, log
	if err := dl.Run(); err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return fmt.Errorf("go mod download: %s", info.Error)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/weaviate-server")
	cmd.Dir = info.Dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run()
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Need returns the server binary, or skips tb (fails it under
// RAG_TEST_WEAVIATE=require) saying why there is none.
func Need(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("RAG_TEST_WEAVIATE") == "require" {
			tb.Fatalf("no Weaviate server: %v", err)
		}
		tb.Skipf("no Weaviate server: %v", err)
	}
	return bin
}
