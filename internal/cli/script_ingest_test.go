package cli_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	registerCmd("brokenembed", cmdBrokenEmbed)
}

// cmdBrokenEmbed starts, in front of the script's fake Ollama, a server
// whose /api/embed answers STATUS with BODY on every request, for good,
// while every other route reaches the fake; $BROKEN is its URL:
//
//	brokenembed STATUS BODY...
func cmdBrokenEmbed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: brokenembed STATUS BODY...")
	}
	status, err := strconv.Atoi(args[0])
	ts.Check(err)
	body := strings.Join(args[1:], " ")
	target, err := url.Parse(ts.Value(fakeKey{}).(*fake).URL)
	ts.Check(err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/embed" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	ts.Defer(srv.Close)
	ts.Setenv("BROKEN", srv.URL)
}
