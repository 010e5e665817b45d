package weaviate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// TLSError reports an https store (weaviates://) that rag cannot talk to
// securely: its certificate is not trusted (an unknown authority, another
// host name, expired), or it does not speak TLS at all. No retry can help,
// so it is returned at once instead of after the retry budget.
type TLSError struct {
	Store string
	// Plain is set when the server answered plain HTTP to the TLS
	// handshake: the URL should be weaviate://.
	Plain bool
	Msg   string // what the TLS layer said
}

func (e *TLSError) Error() string {
	if e.Plain {
		return fmt.Sprintf("%s does not speak https: %s", e.Store, e.Msg)
	}
	return fmt.Sprintf("the certificate of %s is not trusted: %s", e.Store, e.Msg)
}

// Transient marks it not worth another try.
func (e *TLSError) Transient() bool { return false }

// tlsProblem returns the *TLSError err is, if it is one: a certificate the
// client refused, or a plain-HTTP answer to a TLS handshake.
func (c Config) tlsProblem(err error) *TLSError {
	var (
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		rh  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &cve):
		return &TLSError{Store: c.String(), Msg: cve.Err.Error()}
	case errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		return &TLSError{Store: c.String(), Msg: netMessage(err)}
	case errors.As(err, &rh), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &TLSError{Store: c.String(), Plain: true, Msg: "it answered the TLS handshake with plain HTTP"}
	}
	return nil
}

// grpcTLSProblem is tlsProblem for the gRPC channel, whose errors carry the
// TLS failure as text only (a gRPC status message).
func (c Config) grpcTLSProblem(msg string) *TLSError {
	switch {
	case strings.Contains(msg, "authentication handshake failed") && strings.Contains(msg, "x509: "):
		return &TLSError{Store: c.String(), Msg: "gRPC endpoint " + c.GRPCHost + ": " + strings.TrimRight(msg[strings.Index(msg, "x509: "):], `"`)}
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return &TLSError{Store: c.String(), Plain: true, Msg: "its gRPC endpoint " + c.GRPCHost + " answered the TLS handshake without TLS"}
	}
	return nil
}
