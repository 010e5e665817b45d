package weaviatecli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/weaviatetest"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// tlsProxy puts an https reverse proxy in front of the node (Weaviate
// serves plain HTTP; a deployment terminates TLS in front of it the same
// way). Its certificate is httptest's, for 127.0.0.1; certFile holds it as
// PEM, for SSL_CERT_FILE. accepts counts the connections made to it.
func tlsProxy(t *testing.T, n *weaviatetest.Node) (addr, certFile string, accepts *atomic.Int64, cert tls.Certificate) {
	t.Helper()
	target, err := url.Parse(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	accepts = new(atomic.Int64)
	srv.Listener = countingListener{srv.Listener, accepts}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	certFile = filepath.Join(t.TempDir(), "proxy.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.Listener.Addr().String(), certFile, accepts, srv.TLS.Certificates[0]
}

// selfSigned is a certificate for 127.0.0.1 that no one trusts.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "untrusted"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsTunnel terminates TLS with cert (offering h2, as gRPC requires) and
// passes the bytes on to target in the clear: the node's gRPC port behind
// TLS, as a TLS-terminating load balancer puts it. It returns its address
// and a counter of the handshakes that succeeded.
func tlsTunnel(t *testing.T, cert tls.Certificate, target string) (addr string, handshakes *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	handshakes = new(atomic.Int64)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return // closed at the end of the test
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() != nil {
					return
				}
				handshakes.Add(1)
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				go io.Copy(d, c)
				io.Copy(c, d)
			}()
		}
	}()
	return ln.Addr().String(), handshakes
}

// TestHTTPSWithAPIKey talks to a node that wants an API key through a TLS
// proxy, with the rag binary (which trusts the proxy's certificate through
// SSL_CERT_FILE, as Go does on Linux): ingest, search, status, ls, check
// and doctor work over weaviates://. An untrusted certificate, and
// weaviates:// to a server without TLS, fail at once (one try, no retry
// budget spent) with one error line and a hint, exit 1. A missing or wrong
// key is refused with the variable's name. The key, right or wrong, never
// appears in any output of any of these runs.
func TestHTTPSWithAPIKey(t *testing.T) {
	const key, wrong = "rag-https-key-5e1f0c9a7b3d", "rag-not-the-key-22c4d8e6"
	n := weaviatetest.Start(t, weaviatetest.Options{APIKey: key})
	bin := ragBinary(t)
	e := newEnv(t)
	addr, cert, accepts, pair := tlsProxy(t, n)
	storeURL := "weaviates://" + addr + "/Tls"
	docs := filepath.Join(e.dir, "docs")
	trusted := []string{"SSL_CERT_FILE=" + cert, "RAG_WEAVIATE_API_KEY=" + key}
	var outputs []string
	run := func(extra []string, args ...string) (int, string, string) {
		t.Helper()
		code, out, stderr := e.bin(bin, extra, append([]string{"--store", storeURL}, args...)...)
		outputs = append(outputs, out, stderr)
		return code, out, stderr
	}

	// Over https with the key: the commands of a day.
	var rep ingestJSON
	code, out, stderr := run(trusted, "ingest", "--json", docs)
	if json.Unmarshal([]byte(out), &rep); code != 0 || rep.Added != 2 {
		t.Fatalf("ingest over https: exit %d\n%s%s", code, out, stderr)
	}
	var found searchOut
	code, out, stderr = run(trusted, "search", "--json", "-k", "1", "can penguins fly")
	if json.Unmarshal([]byte(out), &found); code != 0 || len(found.Results) != 1 || filepath.Base(found.Results[0].Path) != "a.md" {
		t.Errorf("search over https: exit %d\n%s%s", code, out, stderr)
	}
	var st status
	code, out, stderr = run(trusted, "status", "--json")
	if json.Unmarshal([]byte(out), &st); code != 0 || st.Index != storeURL || st.Files != 2 || st.Chunks != 2 {
		t.Errorf("status over https: exit %d\n%s%s", code, out, stderr)
	}
	for _, args := range [][]string{{"ls", "--json"}, {"check", "--json"}, {"ask", "--json", "can penguins fly"}} {
		if code, out, stderr = run(trusted, args...); code != 0 {
			t.Errorf("%s over https: exit %d\n%s%s", args[0], code, out, stderr)
		}
	}
	run(trusted, "doctor", "--json") // whatever it finds of the fake Ollama: only its output matters here

	// Batches over gRPC, its channel behind TLS too: the URL names the
	// endpoint, so a gRPC channel that fails is an error, not a quiet fall
	// back to REST.
	grpcAddr, handshakes := tlsTunnel(t, pair, n.GRPCAddr)
	grpcURL := "weaviates://" + addr + "/TlsGrpc?grpc=" + grpcAddr
	code, out, stderr = e.bin(bin, trusted, "--store", grpcURL, "ingest", "--json", docs)
	outputs = append(outputs, out, stderr)
	if json.Unmarshal([]byte(out), &rep); code != 0 || rep.Added != 2 || handshakes.Load() == 0 {
		t.Errorf("ingest with batches over gRPC behind TLS: exit %d, %d TLS handshakes on the gRPC port\n%s%s", code, handshakes.Load(), out, stderr)
	}
	code, out, stderr = e.bin(bin, trusted, "--store", grpcURL, "search", "--json", "-k", "1", "can penguins fly")
	outputs = append(outputs, out, stderr)
	if json.Unmarshal([]byte(out), &found); code != 0 || len(found.Results) != 1 || filepath.Base(found.Results[0].Path) != "a.md" {
		t.Errorf("search of the collection written over gRPC: exit %d\n%s%s", code, out, stderr)
	}
	// The gRPC endpoint with a certificate nobody trusts (the REST one
	// still trusted): refused at once too.
	otherAddr, _ := tlsTunnel(t, selfSigned(t), n.GRPCAddr)
	otherURL := "weaviates://" + addr + "/TlsGrpc?grpc=" + otherAddr
	code, out, stderr = e.bin(bin, trusted, "--store", otherURL, "ingest", "--json", docs)
	outputs = append(outputs, out, stderr)
	if code != 1 || !strings.Contains(stderr, "is not trusted: gRPC endpoint "+otherAddr+": x509: ") ||
		!strings.Contains(stderr, "rag: hint: if the server's certificate comes from a private CA") || strings.Contains(stderr, "gave up after") {
		t.Errorf("ingest with an untrusted gRPC certificate: exit %d, want 1 at once with the hint\n%s", code, stderr)
	}

	// Untrusted: the system roots do not know the proxy's certificate.
	for _, args := range [][]string{{"ingest", "--json", docs}, {"search", "penguins"}} {
		before := accepts.Load()
		code, _, stderr := run([]string{"RAG_WEAVIATE_API_KEY=" + key}, args...)
		if code != 1 || !strings.Contains(stderr, "the certificate of "+storeURL+" is not trusted: x509: ") ||
			!strings.Contains(stderr, "rag: hint: if the server's certificate comes from a private CA, point SSL_CERT_FILE") {
			t.Errorf("%s with an untrusted certificate: exit %d, want 1 with the error and the hint\n%s", args[0], code, stderr)
		}
		if strings.Contains(stderr, "gave up after") || accepts.Load()-before > 2 {
			t.Errorf("%s with an untrusted certificate was retried: %d connections\n%s", args[0], accepts.Load()-before, stderr)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 2 {
			t.Errorf("%s with an untrusted certificate: %d lines on stderr, want the error and the hint\n%s", args[0], lines, stderr)
		}
	}

	// weaviates:// to the node itself, which has no TLS.
	plainURL := "weaviates://" + n.HTTPAddr + "/Tls"
	code, out, stderr = e.bin(bin, trusted, "--store", plainURL, "search", "penguins")
	outputs = append(outputs, out, stderr)
	if code != 1 || !strings.Contains(stderr, plainURL+" does not speak https") || !strings.Contains(stderr, "use weaviate:// instead") || strings.Contains(stderr, "gave up after") {
		t.Errorf("weaviates:// to a plain-HTTP node: exit %d, want 1 at once with the hint\n%s", code, stderr)
	}

	// No key, and a wrong one.
	code, _, stderr = run([]string{"SSL_CERT_FILE=" + cert}, "search", "penguins")
	if code != 1 || !strings.Contains(stderr, "it needs an API key; set RAG_WEAVIATE_API_KEY") {
		t.Errorf("no key: exit %d\n%s", code, stderr)
	}
	withWrong := []string{"SSL_CERT_FILE=" + cert, "RAG_WEAVIATE_API_KEY=" + wrong}
	for _, args := range [][]string{{"ingest", "--json", docs}, {"search", "--json", "penguins"}, {"status", "--json"}, {"doctor", "--json"}} {
		code, _, stderr := run(withWrong, args...)
		if args[0] != "doctor" && (code != 1 || !strings.Contains(stderr, "refused the API key from RAG_WEAVIATE_API_KEY") || !strings.Contains(stderr, "rag: hint: set RAG_WEAVIATE_API_KEY")) {
			t.Errorf("%s with a wrong key: exit %d\n%s", args[0], code, stderr)
		}
	}

	for i, o := range outputs {
		if strings.Contains(o, key) || strings.Contains(o, wrong) {
			t.Errorf("output %d shows an API key:\n%s", i, o)
		}
	}
}
