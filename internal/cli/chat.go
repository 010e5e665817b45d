package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/chat"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/server"
)

type chatOptions struct {
	k         int
	mode      string
	chatModel string
}

func (a *app) chatCmd() *cobra.Command {
	var o chatOptions
	c := &cobra.Command{
		Use:   "chat",
		Short: "Talk with the indexed documents: follow-up questions, each answer with its sources",
		Long: `A conversation over the index with the local chat model. Each follow-up
question is rewritten into a standalone one from the conversation before it
is looked up, so "and what about its timeout?" finds the passages about the
thing discussed; each answer comes with its own sources.

On a terminal: the arrow keys recall earlier lines, Ctrl-C cancels the answer
being written (or clears the line), Ctrl-D ends. Commands:

` + chat.Help + `

In a pipe, each line of stdin is a question (or a command); each answer is
followed by its sources and a line "---". --json prints one JSON object per
answer: {"question", "standalone", "answer", "model", "sources", "warnings"}.`,
		Example: `  rag chat
  printf 'how does the exporter retry?\nand its timeout?\n' | rag chat --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.global.ChatModel = o.chatModel
			return a.runChat(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.IntVarP(&o.k, "k", "k", server.DefaultK, "passages per answer (/k changes it)")
	f.StringVar(&o.mode, "mode", "hybrid", "retrieval: hybrid, vector or lexical (/mode changes it)")
	f.StringVar(&o.chatModel, "chat-model", "", "Ollama chat model (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	f.BoolVar(&a.json, "json", false, "in a pipe, print each answer as one JSON line")
	return c
}

// OwnsInterrupt reports whether the command args run handles Ctrl-C itself
// (rag chat cancels the answer under way and goes on), so main must not
// turn SIGINT into the end of the run.
func OwnsInterrupt(args []string) bool {
	a := &app{getenv: func(string) string { return "" }}
	c, _, err := a.rootCmd().Find(args)
	return err == nil && c.Name() == "chat"
}

func (a *app) runChat(ctx context.Context, o chatOptions) error {
	if err := (&chat.Session{}).Apply(chat.Command{Name: "k", Arg: fmt.Sprint(o.k)}); err != nil {
		return usageError{err}
	}
	if err := (&chat.Session{}).Apply(chat.Command{Name: "mode", Arg: o.mode}); err != nil {
		return usageError{err}
	}
	svc, s, c, err := a.openService()
	if err != nil {
		return err
	}
	defer svc.Close()
	if _, err := svc.Status(ctx); errors.Is(err, server.ErrNoIndex) {
		return withHint(fmt.Errorf("no index at %s yet", s.Index), "index some documents first: rag ingest PATH")
	}
	sess := &chat.Session{Asker: svc, Chat: c, Model: s.ChatModel, K: o.k, Mode: o.mode}
	// SIGINT reaches rag chat itself (see OwnsInterrupt): on a terminal it
	// cancels the answer under way; in a pipe it ends the run, as elsewhere.
	intr := make(chan os.Signal, 1)
	signal.Notify(intr, os.Interrupt)
	defer signal.Stop(intr)
	if a.s.InTTY && a.s.OutTTY && !a.json {
		return a.chatTerminal(ctx, sess, intr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-intr:
			cancel()
		case <-ctx.Done():
		}
	}()
	return a.chatPipe(ctx, sess)
}

// chatTerminal is the interactive conversation.
func (a *app) chatTerminal(ctx context.Context, sess *chat.Session, intr <-chan os.Signal) error {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          "rag> ",
		HistoryLimit:    1000,
		InterruptPrompt: "^C",
		Stdin:           io.NopCloser(a.s.In),
		Stdout:          a.s.Out,
		Stderr:          a.s.Err,
	})
	if err != nil {
		return fmt.Errorf("start the line editor: %w", err)
	}
	defer rl.Close()
	fmt.Fprintf(a.s.Err, "rag chat with %s: ask a question, /help for commands, Ctrl-D to end\n", sess.Model)
	for {
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			continue // Ctrl-C at the prompt clears the line
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		quit, err := a.chatLine(ctx, sess, line, intr)
		if err != nil {
			fmt.Fprintf(a.s.Err, "rag: error: %s\n", iostreams.Sanitize(firstLine(err.Error())))
		}
		if quit {
			return nil
		}
	}
}

// chatPipe answers one question per line of stdin.
func (a *app) chatPipe(ctx context.Context, sess *chat.Session) error {
	sc := bufio.NewScanner(a.s.In)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	failed := 0
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		quit, err := a.chatLine(ctx, sess, sc.Text(), nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			failed++
			fmt.Fprintf(a.s.Err, "rag: error: %s\n", iostreams.Sanitize(firstLine(err.Error())))
		}
		if quit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	if failed > 0 {
		return partialError{}
	}
	return nil
}

// chatLine carries out one line: a command or a question. intr, when set,
// cancels the answer under way.
func (a *app) chatLine(ctx context.Context, sess *chat.Session, line string, intr <-chan os.Signal) (quit bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return false, nil
	}
	cmd, isCmd, err := chat.ParseCommand(line)
	if err != nil {
		return false, err
	}
	if isCmd {
		switch cmd.Name {
		case "quit":
			return true, nil
		case "help":
			fmt.Fprintln(a.s.Err, chat.Help)
		case "sources":
			if t := sess.Last(); t != nil {
				a.printTurnSources(t, true)
			} else {
				fmt.Fprintln(a.s.Err, "rag: no answer yet")
			}
		default:
			if err := sess.Apply(cmd); err != nil {
				return false, err
			}
			if !a.quiet && !a.json {
				fmt.Fprintf(a.s.Err, "rag: %s (k %d, mode %s)\n", strings.TrimPrefix(line, "/"), max(sess.K, 1), orDefault(sess.Mode, "hybrid"))
			}
		}
		return false, nil
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if intr != nil {
		go func() {
			select {
			case <-intr:
				cancel()
			case <-tctx.Done():
			}
		}()
	}
	var onDelta func(string) error
	var shown strings.Builder
	if !a.json {
		onDelta = func(d string) error {
			d = iostreams.Sanitize(d)
			shown.WriteString(d)
			_, err := fmt.Fprint(a.s.Out, d)
			return err
		}
	}
	t, err := sess.Ask(tctx, line, onDelta)
	if err != nil {
		if tctx.Err() != nil && ctx.Err() == nil {
			fmt.Fprintln(a.s.Out, "\n^C (answer cancelled)")
			return false, nil
		}
		if errors.Is(err, answer.ErrNoSources) {
			return false, withHint(err, "try other words, or /reset if the conversation led astray")
		}
		return false, err
	}
	if a.json {
		return false, a.writeJSONLine(t)
	}
	if !strings.HasSuffix(shown.String(), "\n") {
		fmt.Fprintln(a.s.Out)
	}
	if t.Standalone != t.Question && !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: looked up: %s\n", iostreams.Sanitize(t.Standalone))
	}
	a.printTurnSources(t, false)
	if !a.s.OutTTY {
		fmt.Fprintln(a.s.Out, "---")
	}
	return false, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// printTurnSources lists a turn's sources: the cited ones, or with all set
// every one given to the model, marked when cited.
func (a *app) printTurnSources(t *chat.Turn, all bool) {
	fmt.Fprintln(a.s.Out)
	head := "Sources:"
	if !all && !slices.ContainsFunc(t.Sources, func(s server.Source) bool { return s.Cited }) {
		all, head = true, "Sources (retrieved; the answer cites none of them):"
	}
	fmt.Fprintln(a.s.Out, head)
	for _, src := range t.Sources {
		if !all && !src.Cited {
			continue
		}
		mark := ""
		if all && src.Cited {
			mark = "  (cited)"
		}
		fmt.Fprintf(a.s.Out, "  [%d] %s%s\n", src.N, anchorRef(src.Path, src.Anchor, src.StartLine, src.EndLine, src.Page), mark)
	}
}

// writeJSONLine prints v as one line of JSON on stdout.
func (a *app) writeJSONLine(v any) error {
	enc := json.NewEncoder(a.s.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
