// Package weaviate keeps rag's index in a Weaviate server or cluster,
// through the official client (github.com/weaviate/weaviate-go-client/v5).
//
// A store is two collections named after one base name (default "Rag"):
//
//   - BaseChunks, one object per chunk: its text, path, title, heading path,
//     ordinal and lines, rag's analysed terms (package lexical) in a property
//     that Weaviate's BM25 indexes with whitespace tokenization, and the
//     chunk's embedding as the object's vector (HNSW, cosine). A chunk stored
//     before it could be embedded ("pending") has no vector.
//   - BaseFiles, one object per file: the incremental state (path, size,
//     mtime, hash, title, the ids of its chunks), plus one settings object
//     recording the embedding provider, model and dimension, so that a
//     collection built with another model is refused.
//
// Object ids are deterministic (UUIDv5 of the path and the chunk's content),
// so a repeated or interrupted ingest writes the same objects again instead
// of adding new ones. Every call is retried through package retry while the
// server is unreachable or answers 5xx; what is still failing then is an
// *UnavailableError.
//
// The package stores, loads and searches; it does not embed, analyse, fuse
// rankings or print.
package weaviate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	client "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"

	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
)

// APIKeyEnv is the environment variable a Weaviate API key is read from.
const APIKeyEnv = store.APIKeyEnv

// DefaultBase is the collection base name when a store URL names none.
const DefaultBase = store.DefaultCollection

// Consistency levels of reads and writes (Weaviate's names).
const (
	One    = "ONE"
	Quorum = "QUORUM"
	All    = "ALL"
)

// Config says where the store is and how to talk to it.
type Config struct {
	// Scheme is "http" or "https"; Host is HOST:PORT.
	Scheme, Host string
	// Base names the collections: Base+"Chunks" and Base+"Files". It must
	// start with an upper-case letter (Weaviate capitalises class names).
	Base string
	// APIKey, when set, is sent as "Authorization: Bearer KEY". KeyEnv names
	// where it came from, for error hints; the key itself never appears in
	// an error.
	APIKey, KeyEnv string
	// Replication is the replication factor of collections this store
	// creates (1 when zero). An existing collection keeps its own.
	Replication int
	// Consistency is the consistency level of every read and write:
	// QUORUM when empty.
	Consistency string
	// Timeout bounds each request (60 s when zero).
	Timeout time.Duration
	// Retry is the policy for unreachable servers and 5xx answers
	// (retry.Default when zero).
	Retry retry.Policy
	// TLS, when set, configures https (a private CA, for instance), for
	// the gRPC endpoint too.
	TLS *tls.Config
	// GRPCHost is HOST:PORT of the server's gRPC endpoint, which batch
	// writes use (see grpc.go); "" writes every batch over REST.
	GRPCHost string
	// GRPCRequired makes a gRPC endpoint that does not answer, while the
	// REST one does, an error (*GRPCError); otherwise batches then go over
	// REST. Set when the store URL names the endpoint (grpc=HOST:PORT).
	GRPCRequired bool
	// Parallel is how many batch requests one write keeps in flight
	// (DefaultParallel when zero).
	Parallel int
	// CutLog is the folder of the log of writes the server died under
	// (repair.go); "" keeps none.
	CutLog string
}

// DefaultParallel is how many batch requests a write keeps in flight by
// default: enough to keep a server (or a cluster's coordinator) busy while
// the next batch is encoded and sent.
const DefaultParallel = 4

// Environment variables of a Weaviate store beside its URL: the API key,
// and the replication factor and consistency level (see Config).
const (
	ReplicationEnv = "RAG_WEAVIATE_REPLICATION"
	ConsistencyEnv = "RAG_WEAVIATE_CONSISTENCY"
)

// FromLocation is the configuration of a parsed store URL, with the key,
// the replication factor and the consistency level read from the
// environment (APIKeyEnv, ReplicationEnv, ConsistencyEnv).
func FromLocation(l store.Location) (Config, error) {
	cfg := Config{Scheme: "http", Host: l.Host, Base: l.Collection, CutLog: DefaultCutLog(),
		GRPCHost: l.GRPCHost, GRPCRequired: l.GRPCSet && l.GRPCHost != ""}
	if l.HTTPS() {
		cfg.Scheme = "https"
	}
	if k := os.Getenv(APIKeyEnv); k != "" {
		cfg.APIKey, cfg.KeyEnv = k, APIKeyEnv
	}
	if v := os.Getenv(ReplicationEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Config{}, fmt.Errorf("%s=%s is not a positive number", ReplicationEnv, v)
		}
		cfg.Replication = n
	}
	if v := os.Getenv(ConsistencyEnv); v != "" {
		cfg.Consistency = strings.ToUpper(v)
		if cfg.Consistency != One && cfg.Consistency != Quorum && cfg.Consistency != All {
			return Config{}, fmt.Errorf("%s=%s is not ONE, QUORUM or ALL", ConsistencyEnv, v)
		}
	}
	return cfg, nil
}

// checkBase accepts a Weaviate class name prefix: a letter, then letters,
// digits or underscores; upper-case first letter.
func checkBase(b string) error {
	if b == "" {
		return errors.New("empty collection name")
	}
	for i, r := range b {
		switch {
		case r >= 'A' && r <= 'Z':
		case i > 0 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'):
		default:
			return fmt.Errorf("collection name %q must start with an upper-case letter and hold only letters, digits and _", b)
		}
	}
	return nil
}

// Client is an open connection to one store's two collections: the
// primitives the store.Store implementation (Store) is made of.
type Client struct {
	cfg    Config
	c      *client.Client
	hc     *http.Client // c's connection, for the calls c has none for (info.go)
	chunks string       // class names
	files  string
	// schemaOK is set once both collections are known to exist.
	schemaOK bool
	// cutChecked is set once the cut log was looked at (repair.go).
	cutChecked bool
	// replicated is set once the chunks collection is known to have more
	// than one replica: Weaviate's GraphQL takes a consistency level only
	// for replicated collections.
	replicated bool
	// grpc is the batch writers' gRPC side; nil without Config.GRPCHost.
	grpc *grpcBatcher
}

// Open connects to the server and checks that it answers. It does not
// create the collections (see EnsureSchema).
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Base == "" {
		cfg.Base = DefaultBase
	}
	if err := checkBase(cfg.Base); err != nil {
		return nil, err
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	if cfg.Replication < 1 {
		cfg.Replication = 1
	}
	if cfg.Consistency == "" {
		cfg.Consistency = Quorum
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.TLS
	tr.MaxIdleConnsPerHost = 16
	headers := map[string]string{}
	if cfg.APIKey != "" {
		headers["Authorization"] = "Bearer " + cfg.APIKey
	}
	hc := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	c, err := client.NewClient(client.Config{
		Scheme:           cfg.Scheme,
		Host:             cfg.Host,
		ConnectionClient: hc,
		Headers:          headers,
		Timeout:          cfg.Timeout,
	})
	if err != nil {
		return nil, cfg.wrap("connect", err)
	}
	s := &Client{cfg: cfg, c: c, hc: hc, chunks: cfg.Base + "Chunks", files: cfg.Base + "Files"}
	if cfg.GRPCHost != "" {
		if s.grpc, err = dialGRPC(cfg); err != nil {
			return nil, err
		}
	}
	if err := s.do(ctx, "connect", func(ctx context.Context) error {
		_, err := c.Misc().MetaGetter().Do(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	if err := s.loadIfExists(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the store's gRPC connection.
func (s *Client) Close() error {
	if s.grpc != nil {
		return s.grpc.conn.Close()
	}
	return nil
}

// Config is the store's configuration, defaults filled in.
func (s *Client) Config() Config { return s.cfg }

// String names the store for people: weaviate://HOST:PORT/BASE (https as
// weaviates://), never with its key.
func (s *Client) String() string { return s.cfg.String() }

// Classes are the names of the chunks and files collections.
func (s *Client) Classes() (chunks, files string) { return s.chunks, s.files }

// String names the store for people, never with its key.
func (c Config) String() string {
	scheme := "weaviate"
	if c.Scheme == "https" {
		scheme = "weaviates"
	}
	return scheme + "://" + c.Host + "/" + c.Base
}

// do runs fn under the store's retry policy, mapping what fails to rag's
// errors.
func (s *Client) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	err := retry.Do(ctx, s.cfg.Retry, func(ctx context.Context) error {
		return s.cfg.wrap(what, fn(ctx))
	})
	return err
}

// schemaTimeout bounds one try of a schema read or write. Weaviate
// forwards writes, and reads unless rag asks otherwise (Client.class), to
// the Raft leader; when the leader has just died the request hangs until a
// new one is elected, so a short try and another one beat waiting out the
// whole request timeout.
const schemaTimeout = 10 * time.Second

// doSchema is do with each try bounded by schemaTimeout.
func (s *Client) doSchema(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	return s.do(ctx, what, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, min(schemaTimeout, s.cfg.Timeout))
		defer cancel()
		return fn(ctx)
	})
}

// ErrUnavailable is what every *UnavailableError is: the server could not
// be reached, or kept failing, after the retries.
var ErrUnavailable = errors.New("weaviate unavailable")

// UnavailableError reports a server that could not be reached, timed out or
// answered a 5xx, 408 or 429 (retried before it is returned). An ingest
// that meets it keeps what it has not written for its next run.
type UnavailableError struct {
	Store string
	What  string
	Code  int    // HTTP status; 0 when there was no answer
	Msg   string // the server's or the network's message, key removed
	err   error
}

func (e *UnavailableError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%s: weaviate at %s answered %d: %s", e.What, e.Store, e.Code, e.Msg)
	}
	return fmt.Sprintf("%s: cannot reach weaviate at %s: %s", e.What, e.Store, e.Msg)
}

// Is makes an UnavailableError an ErrUnavailable and a
// store.ErrUnavailable.
func (e *UnavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == store.ErrUnavailable
}

// Unwrap gives the network error, if any (so retry sees timeouts).
func (e *UnavailableError) Unwrap() error { return e.err }

// Transient marks it worth another try.
func (e *UnavailableError) Transient() bool { return true }

// AuthError reports a server that refused the request's credentials (401,
// 403): the key is missing, wrong, or lacks the permission.
type AuthError struct {
	Store  string
	Code   int
	KeyEnv string // "" when no key was sent
}

func (e *AuthError) Error() string {
	if e.KeyEnv == "" {
		return fmt.Sprintf("weaviate at %s refused the request (%d): it needs an API key; set %s", e.Store, e.Code, APIKeyEnv)
	}
	return fmt.Sprintf("weaviate at %s refused the API key from %s (%d)", e.Store, e.KeyEnv, e.Code)
}

// Transient marks it not worth another try.
func (e *AuthError) Transient() bool { return false }

// Error is any other error answer from the server (a 4xx, a GraphQL error).
type Error struct {
	Store string
	What  string
	Code  int
	Msg   string
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("%s: weaviate at %s answered %d: %s", e.What, e.Store, e.Code, e.Msg)
	}
	return fmt.Sprintf("%s: weaviate at %s: %s", e.What, e.Store, e.Msg)
}

// Transient marks it not worth another try.
func (e *Error) Transient() bool { return false }

// wrap maps a client error to rag's, with the key removed from any message.
func (c Config) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var already interface{ Transient() bool }
	if errors.As(err, &already) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if e, ok := c.wrapGRPC(what, err); ok {
		return e
	}
	store := c.String()
	var wc *fault.WeaviateClientError
	if errors.As(err, &wc) {
		if wc.DerivedFromError != nil {
			return c.wrap(what, wc.DerivedFromError)
		}
		msg := c.redact(strings.TrimSpace(wc.Msg))
		switch {
		case wc.StatusCode == http.StatusUnauthorized || wc.StatusCode == http.StatusForbidden:
			return &AuthError{Store: store, Code: wc.StatusCode, KeyEnv: c.keyEnv()}
		case retry.TransientStatus(wc.StatusCode) || (&graphQLError{msg: msg}).transient():
			// A cluster without a Raft leader or enough replicas answers
			// 422 or 500 with a message saying so: unavailable too.
			return &UnavailableError{Store: store, What: what, Code: wc.StatusCode, Msg: short(msg)}
		default:
			return &Error{Store: store, What: what, Code: wc.StatusCode, Msg: short(msg)}
		}
	}
	if te := c.tlsProblem(err); te != nil {
		return te // tls.go: not worth the retry budget
	}
	var ne net.Error
	if errors.As(err, &ne) || retry.IsTransient(err) {
		return &UnavailableError{Store: store, What: what, Msg: short(c.redact(netMessage(err))), err: err}
	}
	var gq *graphQLError
	if errors.As(err, &gq) {
		msg := short(c.redact(gq.msg))
		if gq.transient() {
			return &UnavailableError{Store: store, What: what, Msg: msg}
		}
		return &Error{Store: store, What: what, Msg: msg}
	}
	return &Error{Store: store, What: what, Msg: short(c.redact(err.Error()))}
}

func (c Config) keyEnv() string {
	if c.APIKey == "" {
		return ""
	}
	if c.KeyEnv == "" {
		return "the configuration"
	}
	return c.KeyEnv
}

func (c Config) redact(s string) string {
	if c.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.APIKey, "[redacted]")
}

// netMessage is the innermost useful part of a network error: "connection
// refused", not the whole URL chain.
func netMessage(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer before the deadline"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
