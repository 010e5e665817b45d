// Command fakeollama runs the fake Ollama server of package ollamatest, for
// shell-level tests and benchmarks of rag:
//
//	fakeollama -addr 127.0.0.1:0 -models all-minilm:embed:384:512,llama3.2:chat:0:8192 [-latency 0s]
//
// It prints its URL (http://127.0.0.1:PORT) as the first line of stdout, then
// serves until it gets SIGINT or SIGTERM or its stdin is closed, so a script
// that dies takes the server with it. It only listens on 127.0.0.1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ragcli/rag/internal/ollamatest"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "fakeollama: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakeollama", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address; the host must be 127.0.0.1")
	models := fs.String("models", "all-minilm:embed:384:512,llama3.2:chat:0:8192",
		"installed models, comma-separated name:kind:dim:ctx with kind embed or chat")
	pullable := fs.String("pullable", "", "models /api/pull can fetch, in the format of -models")
	latency := fs.Duration("latency", 0, "delay added before answering each request")
	watchStdin := fs.Bool("stdin", true, "exit when stdin is closed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	installed, err := parseModels(*models)
	if err != nil {
		return err
	}
	toPull, err := parseModels(*pullable)
	if err != nil {
		return err
	}

	s, err := ollamatest.Listen(*addr, installed...)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, m := range toPull {
		s.AddPullable(m)
	}
	s.SetLatency(*latency)

	if _, err := fmt.Fprintln(stdout, s.URL); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watchStdin {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	<-ctx.Done()
	return nil
}

func parseModels(list string) ([]ollamatest.Model, error) {
	var ms []ollamatest.Model
	for spec := range strings.SplitSeq(list, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		m, err := ollamatest.ParseModel(spec)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}
