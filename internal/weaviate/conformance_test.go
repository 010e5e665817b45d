package weaviate

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/storetest"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// The store conformance suite, the same tests the local index passes,
// against a real single Weaviate node: each test gets collections of its
// own.
func TestConformance(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	var seq atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(Config{Host: n.HTTPAddr, GRPCHost: n.GRPCAddr, GRPCRequired: true, Base: fmt.Sprintf("Conf%d", seq.Add(1))})
	})
}
