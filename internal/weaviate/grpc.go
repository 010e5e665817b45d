package weaviate

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/weaviate/weaviate/entities/models"
	pb "github.com/weaviate/weaviate/grpc/generated/protocol/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// Batch writes go over Weaviate's gRPC API when the server's gRPC endpoint
// answers: a vector travels as 4 bytes a dimension rather than as JSON
// numbers, and the answer lists only the failed objects, where the REST
// batch endpoint echoes every object back, vector included (measured at 20k
// chunks: 6.5 of the 7.7 CPU seconds the REST batch calls took went to
// decoding that echo). Everything
// else (schema, GraphQL reads, deletes) stays on REST, through the official
// client.
//
// The gRPC connection is rag's own rather than the official client's,
// because the client's skips certificate verification for TLS
// (InsecureSkipVerify); this one verifies as the REST side does, with
// Config.TLS.

// grpcProbeTimeout bounds the check of whether the gRPC endpoint answers.
const grpcProbeTimeout = 5 * time.Second

// Transports a Client writes batches with.
const (
	TransportGRPC = "grpc"
	TransportREST = "rest"
)

// grpcBatcher holds the gRPC side of a Client and the once-per-Client choice
// between gRPC and REST.
type grpcBatcher struct {
	conn   *grpc.ClientConn
	rpc    pb.WeaviateClient
	health healthpb.HealthClient

	mu        sync.Mutex
	transport string // "" until the first batch decides
	why       string // why REST was chosen over a configured gRPC endpoint
}

// dialGRPC prepares (without connecting: grpc.NewClient is lazy) the
// connection to cfg.GRPCHost, with TLS when the store is https.
func dialGRPC(cfg Config) (*grpcBatcher, error) {
	creds := insecure.NewCredentials()
	if cfg.Scheme == "https" {
		tc := &tls.Config{}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
		}
		creds = credentials.NewTLS(tc)
	}
	// Reconnect quickly once a server is back: gRPC's default backoff
	// grows to two minutes, longer than the retry budget, so a node that
	// had been down a while would keep failing after it returned.
	conn, err := grpc.NewClient(cfg.GRPCHost, grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}))
	if err != nil {
		return nil, fmt.Errorf("grpc endpoint %s: %w", cfg.GRPCHost, err)
	}
	return &grpcBatcher{conn: conn, rpc: pb.NewWeaviateClient(conn), health: healthpb.NewHealthClient(conn)}, nil
}

// GRPCError reports a gRPC endpoint that the store URL named (grpc=HOST:PORT)
// but that does not answer while the REST endpoint does. It is not a
// store.ErrUnavailable: the server is up, and the likely cause is the URL.
type GRPCError struct {
	Store, GRPCHost, Msg string
}

func (e *GRPCError) Error() string {
	return fmt.Sprintf("weaviate at %s answers, but its gRPC endpoint %s does not: %s", e.Store, e.GRPCHost, e.Msg)
}

// Hint says what to do about it.
func (e *GRPCError) Hint() string {
	return "check the grpc=HOST:PORT of the store URL (Weaviate's GRPC_PORT), or write over REST with grpc=off"
}

// Transient marks it worth another try: a node that is starting answers
// REST a moment before gRPC (seen in TestStoreUnavailableRetried), so the
// retries run out before a wrong endpoint is reported.
func (e *GRPCError) Transient() bool { return true }

// Transport is how the Client writes batches: TransportGRPC or
// TransportREST, and why REST when a gRPC endpoint was configured but did
// not answer. Before the first batch it is what the configuration asks for.
func (s *Client) Transport() (transport, why string) {
	if s.grpc == nil {
		return TransportREST, ""
	}
	s.grpc.mu.Lock()
	defer s.grpc.mu.Unlock()
	if s.grpc.transport == "" {
		return TransportGRPC, ""
	}
	return s.grpc.transport, s.grpc.why
}

// overGRPC decides, on the first batch, whether batches go over gRPC: yes
// when the gRPC endpoint answers (any gRPC answer, even a refusal, shows it
// is there). When it does not, the REST endpoint is asked: if that does not
// answer either, the server is down (an *UnavailableError, retried, nothing
// decided); if it does, a gRPC endpoint the URL named is a *GRPCError, and a
// defaulted one (HOST:50051) is given up for REST, for this Client's life.
func (s *Client) overGRPC(ctx context.Context) (bool, error) {
	g := s.grpc
	if g == nil {
		return false, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.transport != "" {
		return g.transport == TransportGRPC, nil
	}
	pctx, cancel := context.WithTimeout(s.grpcContext(ctx), min(grpcProbeTimeout, s.cfg.Timeout))
	_, err := g.health.Check(pctx, &healthpb.HealthCheckRequest{})
	cancel()
	if err == nil || grpcReached(err) {
		g.transport = TransportGRPC
		return true, nil
	}
	if _, rerr := s.c.Misc().MetaGetter().Do(ctx); rerr != nil {
		return false, s.cfg.wrap("write", rerr)
	}
	msg := short(s.cfg.redact(grpcMessage(err)))
	if s.cfg.GRPCRequired {
		if te := s.cfg.grpcTLSProblem(msg); te != nil {
			return false, te // tls.go: no retry helps
		}
		return false, &GRPCError{Store: s.cfg.String(), GRPCHost: s.cfg.GRPCHost, Msg: msg}
	}
	g.transport, g.why = TransportREST, fmt.Sprintf("gRPC endpoint %s: %s", s.cfg.GRPCHost, msg)
	return false, nil
}

// grpcReached reports an error that came from a gRPC server, not from
// failing to reach one.
func grpcReached(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return false
	}
	return true
}

func grpcMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		if st.Code() == codes.DeadlineExceeded {
			return "no answer before the deadline"
		}
		return st.Message()
	}
	return err.Error()
}

// grpcContext carries the API key, as REST's Authorization header.
func (s *Client) grpcContext(ctx context.Context) context.Context {
	if s.cfg.APIKey == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.cfg.APIKey)
}

// putGRPC writes one batch over gRPC: one try, for s.do to retry.
func (s *Client) putGRPC(ctx context.Context, objs []*models.Object) error {
	req := &pb.BatchObjectsRequest{Objects: make([]*pb.BatchObject, len(objs))}
	if cl, ok := pb.ConsistencyLevel_value["CONSISTENCY_LEVEL_"+s.cfg.Consistency]; ok {
		level := pb.ConsistencyLevel(cl)
		req.ConsistencyLevel = &level
	}
	for i, o := range objs {
		bo, err := batchObject(o)
		if err != nil {
			return err
		}
		req.Objects[i] = bo
	}
	ctx, cancel := context.WithTimeout(s.grpcContext(ctx), s.cfg.Timeout)
	defer cancel()
	reply, err := s.grpc.rpc.BatchObjects(ctx, req)
	if err != nil {
		return err
	}
	for _, e := range reply.GetErrors() {
		id := "?"
		if i := int(e.GetIndex()); i >= 0 && i < len(objs) {
			id = string(objs[i].ID)
		}
		return &graphQLError{msg: fmt.Sprintf("object %s: %s", id, e.GetError())}
	}
	return nil
}

// batchObject is o in gRPC's form. rag's objects hold only scalars and
// lists of strings, as rag builds them or as a REST read decoded them
// ([]any, json.Number: the cut-log repair writes stored copies back).
func batchObject(o *models.Object) (*pb.BatchObject, error) {
	props, _ := o.Properties.(map[string]any)
	scalars := make(map[string]any, len(props))
	var lists []*pb.TextArrayProperties
	var empty []string
	for name, v := range props {
		if l, ok := v.([]any); ok {
			strs := make([]string, len(l))
			for i, e := range l {
				if strs[i], ok = e.(string); !ok {
					return nil, fmt.Errorf("object %s: property %s: a list holding %T", o.ID, name, e)
				}
			}
			v = strs
		}
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return nil, fmt.Errorf("object %s: property %s: %w", o.ID, name, err)
			}
			v = f
		}
		switch v := v.(type) {
		case []string:
			if len(v) == 0 {
				empty = append(empty, name)
				continue
			}
			lists = append(lists, &pb.TextArrayProperties{PropName: name, Values: v})
		case nil, string, bool, int, int64, float64:
			scalars[name] = v
		default:
			return nil, fmt.Errorf("object %s: property %s: unexpected type %T", o.ID, name, v)
		}
	}
	st, err := structpb.NewStruct(scalars)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", o.ID, err)
	}
	bo := &pb.BatchObject{
		Uuid:       string(o.ID),
		Collection: o.Class,
		Properties: &pb.BatchObject_Properties{NonRefProperties: st, TextArrayProperties: lists, EmptyListProps: empty},
	}
	if o.Vector != nil {
		bo.VectorBytes = vectorBytes(o.Vector)
	}
	return bo, nil
}

// vectorBytes is Weaviate's vector_bytes: little-endian float32s.
func vectorBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// wrapGRPC maps a gRPC status to rag's errors; ok is false when err is not
// one.
func (c Config) wrapGRPC(what string, err error) (error, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	store := c.String()
	msg := short(c.redact(strings.TrimSpace(grpcMessage(err))))
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled, true
	case codes.Unauthenticated:
		return &AuthError{Store: store, Code: 401, KeyEnv: c.keyEnv()}, true
	case codes.PermissionDenied:
		return &AuthError{Store: store, Code: 403, KeyEnv: c.keyEnv()}, true
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return &UnavailableError{Store: store, What: what, Msg: msg}, true
	}
	if (&graphQLError{msg: msg}).transient() {
		return &UnavailableError{Store: store, What: what, Msg: msg}, true
	}
	return &Error{Store: store, What: what, Msg: msg}, true
}
