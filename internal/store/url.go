package store

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
)

// The store URL syntax (--store, RAG_STORE, the config file's store:):
//
//	""                                  the local index (--index); the default
//	weaviate://HOST[:PORT][/COLLECTION]  Weaviate over http
//	weaviates://HOST[:PORT][/COLLECTION] Weaviate over https
//
// PORT defaults to 8080 (http) or 443 (https), COLLECTION to DefaultCollection;
// its first letter is upper-cased, as Weaviate does with class names. Batch
// writes go over Weaviate's gRPC endpoint when one is known: the query
// parameter grpc=HOST:PORT names it (with TLS when the URL does), and a URL
// on the default port (8080, or 443 for https) without one means
// HOST:50051, Weaviate's default GRPC_PORT; a URL on another port without
// grpc= writes over REST, since HOST:50051 may then be another server. A
// defaulted endpoint that does not answer while REST does is given up for
// REST; a named one that does not answer is an error; grpc=off writes over
// REST (docs/design.md, "Weaviate: the engine side"). The API key, if the server wants one, comes from
// the environment variable APIKeyEnv only: a URL with a user or password is
// refused, so no key ever sits in a config file, a flag or a message.
const (
	SchemeWeaviate      = "weaviate"
	SchemeWeaviateHTTPS = "weaviates"
	DefaultCollection   = "Rag"
	DefaultGRPCPort     = "50051"
	APIKeyEnv           = "RAG_WEAVIATE_API_KEY"
)

// Location is a parsed store URL. The zero Location is the local index.
type Location struct {
	Scheme     string // SchemeWeaviate or SchemeWeaviateHTTPS; "" for the local index
	Host       string // host:port of the REST endpoint
	GRPCHost   string // host:port of the gRPC endpoint; "" for REST only
	GRPCSet    bool   // the URL named the gRPC endpoint (grpc=HOST:PORT or grpc=off)
	Collection string
}

// Local reports whether l is the local index.
func (l Location) Local() bool { return l.Scheme == "" }

// HTTPS reports whether the store is reached over TLS.
func (l Location) HTTPS() bool { return l.Scheme == SchemeWeaviateHTTPS }

// String is the canonical URL, for messages: it never holds a credential.
func (l Location) String() string {
	if l.Local() {
		return ""
	}
	s := l.Scheme + "://" + l.Host + "/" + l.Collection
	switch {
	case l.GRPCSet && l.GRPCHost == "":
		s += "?grpc=off"
	case l.GRPCSet:
		s += "?grpc=" + l.GRPCHost
	}
	return s
}

// ParseURL parses a store URL (see the syntax above); "" is the local index.
func ParseURL(raw string) (Location, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Location{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return Location{}, fmt.Errorf("store %q is not a URL: use weaviate://HOST:PORT[/COLLECTION] or weaviates:// for https", raw)
	}
	var l Location
	port := "8080"
	switch strings.ToLower(u.Scheme) {
	case SchemeWeaviate:
		l.Scheme = SchemeWeaviate
	case SchemeWeaviateHTTPS:
		l.Scheme, port = SchemeWeaviateHTTPS, "443"
	default:
		return Location{}, fmt.Errorf("store %q: unknown scheme %q: use weaviate:// or weaviates:// (https)", raw, u.Scheme)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("store %q: a user or key in the URL is refused: put the API key in %s", redact(u), APIKeyEnv)
	}
	if u.Hostname() == "" {
		return Location{}, fmt.Errorf("store %q has no host: use %s://HOST:PORT", raw, l.Scheme)
	}
	defaultPort := port
	if p := u.Port(); p != "" {
		port = p
	}
	l.Host = net.JoinHostPort(u.Hostname(), port)
	if port == defaultPort {
		l.GRPCHost = net.JoinHostPort(u.Hostname(), DefaultGRPCPort)
	}
	for k, v := range u.Query() {
		switch k {
		case "grpc":
			l.GRPCSet = true
			if v[len(v)-1] == "off" {
				l.GRPCHost = ""
				continue
			}
			h, p, err := net.SplitHostPort(v[len(v)-1])
			if err != nil || h == "" || p == "" {
				return Location{}, fmt.Errorf("store %q: grpc=%q is not HOST:PORT or off", raw, v[len(v)-1])
			}
			l.GRPCHost = net.JoinHostPort(h, p)
		default:
			return Location{}, fmt.Errorf("store %q: unknown parameter %q (only grpc=HOST:PORT or grpc=off)", raw, k)
		}
	}
	coll := strings.Trim(u.Path, "/")
	if coll == "" {
		coll = DefaultCollection
	}
	r := []rune(coll)
	r[0] = unicode.ToUpper(r[0])
	for i, c := range r {
		if !(c == '_' || c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c) && i > 0)) {
			return Location{}, fmt.Errorf("store %q: collection %q must be ASCII letters, digits and _, starting with a letter", raw, coll)
		}
	}
	l.Collection = string(r)
	return l, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
