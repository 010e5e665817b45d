# rag's build. `make test` is what CI runs (.ci/run).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/ragcli/rag/internal/cli.Version=$(VERSION)
GO ?= go
BIN := bin/rag
export CGO_ENABLED ?= 0

.PHONY: all build install test test-race test-ollama test-weaviate bench bench-weaviate lint fuzz demo clean

DEMO_INDEX ?= $(CURDIR)/.rag-demo

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rag

install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/rag

# The default test run: unit tests, fuzz seed corpora and end-to-end scripts,
# with the race detector where cgo is available.
test:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 60m ./...

# Fails when gofmt or go mod tidy would change anything, so CI catches both.
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

# Run each fuzz target for a short while (longer with FUZZTIME=10m).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# rag's main job on a machine with nothing but Go: index this repository's
# docs and search them. Without Ollama, chunks are stored for lexical search
# and embedded later (exit code 3 says so); with it, search is hybrid.
demo: build
	@$(BIN) ingest --index $(DEMO_INDEX) docs; code=$$?; [ $$code -eq 0 ] || [ $$code -eq 3 ] || exit $$code
	$(BIN) search --index $(DEMO_INDEX) --mode lexical -k 3 "what happens to the index when rag is killed during an ingest"
	@echo
	@echo "Next: start Ollama (ollama serve; ollama pull all-minilm; ollama pull llama3.2), then"
	@echo "  $(BIN) ingest --index $(DEMO_INDEX) docs && $(BIN) ask --index $(DEMO_INDEX) \"how does rag survive a crash?\""

clean:
	rm -rf bin dist .rag-demo

# rag against a real Ollama v0.17.4 with tiny generated models
# (internal/ollamareal; ../shared/tinymodels). Builds the server once into
# $(RAG_TEST_CACHE) (about 6-9 minutes cold on 2 cores), then takes minutes.
# Not part of `make test`.
RAG_TEST_CACHE ?= $(HOME)/.cache/rag-test
TINYMODELS ?= $(CURDIR)/../shared/tinymodels
test-ollama:
	RAG_TEST_OLLAMA=$${RAG_TEST_OLLAMA:-1} RAG_TEST_CACHE=$(RAG_TEST_CACHE) CGO_ENABLED=1 \
	  $(GO) test -count=1 -timeout 40m -v ./internal/ollamareal
	@# The OpenAI-compatible provider against the same server's /v1 endpoints.
	@bin=$(RAG_TEST_CACHE)/ollama-0.17.4; \
	if [ ! -x "$$bin" ] || [ ! -x $(TINYMODELS)/serve.sh ]; then \
	  echo "skip: the OpenAI provider against a real Ollama needs $$bin and $(TINYMODELS)"; exit 0; fi; \
	env=$$(OLLAMA_BIN=$$bin $(TINYMODELS)/serve.sh start) || exit 1; \
	eval "$$(echo "$$env" | sed 's/^/export /')"; \
	trap 'OLLAMA_BIN=$$bin $(TINYMODELS)/serve.sh stop "$$TINYMODELS_DIR" >/dev/null' EXIT; \
	RAG_REAL_OLLAMA=$$OLLAMA_HOST $(GO) test -count=1 -timeout 10m -v -run RealOllama ./internal/openai

# rag's Weaviate store against a real Weaviate v1.35.2: single nodes and a
# three-node cluster on loopback (internal/weaviatetest builds the server
# once into $(RAG_TEST_CACHE)/weaviate-1.35.2 from the Go module proxy, about
# 6 minutes on 2 cores when idle; RAG_TEST_WEAVIATE_BIN names a prebuilt one).
# Not part of `make test`. WEAVIATE_PKGS adds packages whose tests need it.
WEAVIATE_PKGS ?= ./internal/weaviatecli
test-weaviate:
	RAG_TEST_WEAVIATE=$${RAG_TEST_WEAVIATE:-1} RAG_TEST_CACHE=$(RAG_TEST_CACHE) \
	  $(GO) test -count=1 -timeout 40m -v ./internal/weaviatetest ./internal/weaviate $(WEAVIATE_PKGS)

# The issue's Weaviate figures (docs/design.md, "The cluster benchmark"):
# rag ingest of a generated corpus of BENCH_CHUNKS chunks into a three-node
# loopback cluster and into the local index (chunks/s, rag's peak RSS),
# rag search p50/p99 against both (a process per query, and rag serve),
# and recall@10 of the cluster's HNSW against exact search. BENCH_DIR keeps
# the corpus, the indexes and figures.txt, so an interrupted run continues
# (about 15 GB at 1M chunks; remove it afterwards). Then the in-process
# commit benchmark at 20k chunks, REST against gRPC side by side. About
# 70 minutes at 1M on 2 cores (56 of them the cluster ingest); not part of
# `make test`.
BENCH_CHUNKS ?= 1000000
BENCH_DIR ?= $(TMPDIR)/rag-bench
TMPDIR ?= /tmp
bench-weaviate:
	RAG_TEST_WEAVIATE=$${RAG_TEST_WEAVIATE:-1} RAG_TEST_CACHE=$(RAG_TEST_CACHE) \
	  RAG_BENCH_CHUNKS=$(BENCH_CHUNKS) RAG_BENCH_DIR=$(BENCH_DIR) \
	  $(GO) test -count=1 -timeout 6h -v -run '^TestMillionBenchmark$$' ./internal/weaviatecli
	RAG_TEST_WEAVIATE=$${RAG_TEST_WEAVIATE:-1} RAG_TEST_CACHE=$(RAG_TEST_CACHE) \
	  RAG_WEAVIATE_BENCH=20000 RAG_WEAVIATE_BENCH_MODES=rest/1,grpc/1,grpc/4,grpc/4,grpc/1,rest/1 \
	  $(GO) test -count=1 -timeout 60m -v -run '^TestClusterBenchmark$$' ./internal/weaviate
