package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/weaviate"
)

// storeProbeTimeout bounds each request rag doctor makes to a store: a
// quick look, as its Ollama check is, not the ingest's patience.
const storeProbeTimeout = 5 * time.Second

// diagnoseStore is rag doctor of a remote store: each call tried once, no
// retries (doctor reports, it does not wait), the server's version and
// nodes, the key, and what the collection holds. It fills d.Index and
// returns the collection's metadata (zero when there is none yet), which
// the model checks then compare with the configured model.
func (a *app) diagnoseStore(ctx context.Context, d *Doctor, s config.Settings, loc store.Location, problem func(string, error, string)) index.Meta {
	ds := &DoctorStore{Engine: "weaviate", Source: s.Sources["store"].String(), Unhealthy: []string{}}
	d.Index = DoctorIndex{Dir: loc.String(), Store: ds}
	cfg, err := weaviate.FromLocation(loc)
	if err != nil {
		problem("config", err, "fix the variable or unset it")
		return index.Meta{}
	}
	cfg.Retry, cfg.Timeout = retry.Policy{Budget: -1}, storeProbeTimeout
	st := weaviate.New(cfg)
	fail := func(err error) index.Meta {
		storeProblem(ds, loc, err, problem)
		return index.Meta{}
	}
	c, err := st.Client(ctx)
	if err != nil {
		return fail(err)
	}
	ds.Reachable, ds.Auth = true, "ok"
	in, err := c.Info(ctx)
	if err != nil {
		return fail(err)
	}
	ds.Version, ds.Nodes, ds.NodesHealthy, ds.Replication = in.Version, in.Nodes, in.Healthy, in.Replication
	ds.Unhealthy = cmpList(in.Unhealthy)
	if in.Healthy < in.Nodes {
		problem("store", fmt.Errorf("%d of %d nodes of %s are healthy (%s)", in.Healthy, in.Nodes, loc.Host, strings.Join(in.Unhealthy, ", ")),
			"start the nodes that are down: with replication, writes and QUORUM reads need a majority of a collection's replicas")
	}
	if in.Exists && in.Replication > in.Nodes {
		problem("store", fmt.Errorf("%s has replication factor %d on %d nodes", loc, in.Replication, in.Nodes),
			"add nodes to the cluster: writes at QUORUM cannot succeed with fewer nodes than half the replicas plus one")
	}
	if !in.Exists {
		return index.Meta{}
	}
	r, err := st.OpenReader(ctx)
	if errors.Is(err, index.ErrNoIndex) {
		return index.Meta{}
	}
	if err != nil {
		return fail(fmt.Errorf("open index %s: %w", loc, err))
	}
	defer r.Close()
	stats, err := r.Stats(ctx)
	if err != nil {
		return fail(err)
	}
	m := r.Meta()
	d.Index.Exists = true
	d.Index.EmbedModel, d.Index.Dim, d.Index.ChunkTokens, d.Index.LastIngest = m.EmbedModel, m.Dim, m.ChunkTokens, m.LastIngest
	d.Index.Files, d.Index.Chunks, d.Index.Pending = stats.Files, stats.Chunks, stats.Pending
	return m
}

// storeProblem records what kept doctor from asking the store, with its fix.
func storeProblem(ds *DoctorStore, loc store.Location, err error, problem func(string, error, string)) {
	var ae *weaviate.AuthError
	var ue *weaviate.UnavailableError
	switch {
	case errors.As(err, &ae) && ae.KeyEnv == "":
		ds.Auth = "missing"
		problem("store", err, fmt.Sprintf("set %s to one of the server's API keys (rag reads it from the environment only)", weaviate.APIKeyEnv))
	case errors.As(err, &ae):
		ds.Auth = "refused"
		problem("store", err, fmt.Sprintf("check the key in %s against the server's AUTHENTICATION_APIKEY_ALLOWED_KEYS, and its permissions on the collection", ae.KeyEnv))
	case errors.As(err, &ue) && ue.Code == 0:
		ds.Reachable, ds.Auth = false, ""
		problem("store", err, fmt.Sprintf("start Weaviate on %s, or fix the store URL (--store, RAG_STORE, the config file's store:)", loc.Host))
	default:
		problem("store", err, "check the server's log; rag doctor tried once, without retries")
	}
}
