// Command rag is a local-first retrieval-augmented generation tool: it indexes
// folders of documents and answers questions about them with a local model.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
)

func main() {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if cli.OwnsInterrupt(os.Args[1:]) {
		sigs = sigs[1:] // rag chat: Ctrl-C cancels the answer under way, not the conversation
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	code := cli.Main(ctx, os.Args[1:], iostreams.System(), os.Getenv)
	stop()
	os.Exit(code)
}
