package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rag": func() {
			ctx, stop := signalContext()
			code := cli.Main(ctx, os.Args[1:], iostreams.System(), os.Getenv)
			stop()
			os.Exit(code)
		},
	})
}

type fakeKey struct{}

// fake is one script's fake Ollama and the counter baseline set by `ollama reset`.
type fake struct {
	*ollamatest.Server
	base map[string]int
}

// TestScripts runs testdata/script/*.txtar: rag end to end against a fake
// Ollama, with HOME, the config and the index isolated in $WORK.
func TestScripts(t *testing.T) {
	defer permissiveUmask()()
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: false,
		Condition:           extraCondition,
		Setup: func(env *testscript.Env) error {
			srv := ollamatest.NewServer(
				ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
				ollamatest.Model{Name: "llama3.2", ContextLength: 8192},
			)
			env.Defer(srv.Close)
			env.Values[fakeKey{}] = &fake{Server: srv, base: map[string]int{}}
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("OLLAMA_HOST", srv.URL)
			env.Setenv("FAKE_HOSTPORT", strings.TrimPrefix(srv.URL, "http://"))
			// The default retry policy, scaled down so that scripts stay quick;
			// a script that tests timing sets its own.
			env.Setenv("RAG_OLLAMA_TIMING", "retry-initial=10ms,retry-max=40ms,retry-budget=300ms")
			env.Setenv("NO_COLOR", "")
			return os.MkdirAll(home, 0o755)
		},
		Cmds: scriptCmds,
	})
}

// scriptCmds holds the testscript commands every script can use. Other files
// in this package (script_NAME_test.go) add theirs from an init function with
// registerCmd, so a new command never needs a hunk in this file.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}

// registerCmd adds a testscript command; a name registered twice panics, so
// two helpers cannot silently replace each other's command.
func registerCmd(name string, fn func(ts *testscript.TestScript, neg bool, args []string)) {
	if _, dup := scriptCmds[name]; dup {
		panic("testscript command " + name + " registered twice")
	}
	scriptCmds[name] = fn
}

func init() {
	registerCmd("ollama", cmdOllama)
	registerCmd("jsonfield", cmdJSONField)
	registerCmd("filemode", cmdFileMode)
	registerCmd("waitfile", cmdWaitFile)
	registerCmd("exits", cmdExits)
	registerCmd("sleep", cmdSleep)
	registerCmd("interrupt", cmdInterrupt)
}

// cmdOllama drives and inspects the script's fake Ollama:
//
//	ollama calls PATH N          requests to PATH since the last reset == N
//	ollama embedded N            inputs embedded since the last reset == N
//	ollama reset                 start counting again
//	ollama wait PATH N           wait up to 20 s until N requests to PATH arrived since the last reset
//	ollama fail PATH STATUS N BODY   the next N requests to PATH fail
//	ollama hang PATH on|off
//	ollama clear                 drop every queued fault
//	ollama offline               /api/pull fails as without network
//	ollama truncated N           chat prompts cut to their window since the last reset == N
//	ollama hangfor PATH DURATION N   the next N requests to PATH wait DURATION, then go on
//	ollama breakstream AFTER TEXT    the next chat stream ends after AFTER pieces with an error line
//	ollama endstream AFTER       the next chat stream ends after AFTER pieces, without done
//	ollama latency DURATION
//	ollama reply TEXT            the chat model's scripted reply
//	ollama chat [-match TEXT]... [-n N] [-status CODE] [-delay D] REPLY...  a reply rule for matching requests
//	ollama model NAME embed|chat DIM CTX [SHOWCTX]   install a model
//	ollama pullable NAME embed|chat   a model /api/pull can fetch
//	ollama remove NAME           uninstall a model
//	ollama lastchat FIELD        print a field of the last chat request (num_ctx, prompt)
func cmdOllama(ts *testscript.TestScript, neg bool, args []string) {
	f := ts.Value(fakeKey{}).(*fake)
	if len(args) == 0 {
		ts.Fatalf("usage: ollama CMD ...")
	}
	count := func(name string, got int, want string) {
		n, err := strconv.Atoi(want)
		ts.Check(err)
		got -= f.base[name]
		if (got == n) == neg {
			ts.Fatalf("%s: got %d, want %s%d", name, got, map[bool]string{true: "not ", false: ""}[neg], n)
		}
	}
	switch args[0] {
	case "calls":
		count(args[1], f.Calls(args[1]), args[2])
	case "embedded":
		count("embedded", f.EmbeddedInputs(), args[1])
	case "wait":
		if neg || len(args) != 3 {
			ts.Fatalf("usage: ollama wait PATH N")
		}
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		deadline := time.Now().Add(20 * time.Second)
		for f.Calls(args[1])-f.base[args[1]] < n {
			if time.Now().After(deadline) {
				ts.Fatalf("%s: %d requests after 20s, want %d", args[1], f.Calls(args[1])-f.base[args[1]], n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	case "reset":
		for _, p := range []string{"/api/embed", "/api/chat", "/api/show", "/api/pull"} {
			f.base[p] = f.Calls(p)
		}
		f.base["embedded"] = f.EmbeddedInputs()
		f.base["truncated"] = f.TruncatedPrompts()
	case "fail":
		status, err := strconv.Atoi(args[2])
		ts.Check(err)
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		f.FailNext(args[1], status, strings.Join(args[4:], " "), n)
	case "hang":
		f.Hang(args[1], args[2] == "on")
	case "clear":
		f.ClearFaults()
	case "offline":
		f.SetOffline(true)
	case "truncated":
		count("truncated", f.TruncatedPrompts(), args[1])
	case "hangfor":
		d, err := time.ParseDuration(args[2])
		ts.Check(err)
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		f.HangFor(args[1], d, n)
	case "breakstream", "endstream":
		after, err := strconv.Atoi(args[1])
		ts.Check(err)
		f.BreakNextStream(after, strings.Join(args[2:], " "))
	case "latency":
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		f.SetLatency(d)
	case "reply":
		text := strings.Join(args[1:], " ")
		f.SetChatReply(func(api.ChatRequest) string { return text })
	case "chat":
		r, err := ollamatest.ParseChatRule(args[1:])
		ts.Check(err)
		f.AddChatRule(r)
	case "model":
		dim, err := strconv.Atoi(args[3])
		ts.Check(err)
		ctxLen, err := strconv.Atoi(args[4])
		ts.Check(err)
		m := ollamatest.Model{Name: args[1], Embedding: args[2] == "embed", Dim: dim, ContextLength: ctxLen}
		if len(args) > 5 { // the context length /api/show claims
			m.ShowContextLength, err = strconv.Atoi(args[5])
			ts.Check(err)
		}
		ts.Check(f.AddModel(m))
	case "pullable":
		f.AddPullable(ollamatest.Model{Name: args[1], Embedding: args[2] == "embed"})
	case "remove":
		f.RemoveModel(args[1])
	case "lastchat":
		req := f.LastChat()
		switch args[1] {
		case "num_ctx":
			fmt.Fprintln(ts.Stdout(), req.Options["num_ctx"])
		case "prompt":
			for _, m := range req.Messages {
				fmt.Fprintf(ts.Stdout(), "%s: %s\n", m.Role, m.Content)
			}
		}
	default:
		ts.Fatalf("unknown ollama command %q", args[0])
	}
}

// cmdJSONField checks a JSON file: jsonfield FILE PATH WANT, PATH dotted
// (results.0.path), WANT compared as printed with %v.
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonfield FILE PATH WANT")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &v))
	for _, part := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if part == "len" {
				v = len(x)
				continue
			}
			ts.Check(err)
			if i >= len(x) {
				ts.Fatalf("%s: index %d out of range (%d)", args[1], i, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("%s: cannot descend into %T", args[1], v)
		}
	}
	got := fmt.Sprintf("%v", v)
	if (got == args[2]) == neg {
		ts.Fatalf("%s = %s, want %s%s", args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// cmdFileMode checks permissions: filemode PATH 0700.
func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fmt.Sprintf("%04o", fi.Mode().Perm())
	if (got == args[1]) == neg {
		ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
	}
}

// cmdWaitFile waits up to 20 s for a file to exist: waitfile PATH.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear", args[0])
}

// cmdExits runs rag and checks its exact exit code: exits CODE ARGS...
// Its stdout and stderr become the script's stdout and stderr.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: exits CODE [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	cmd, stdout, stderr := ragCommand(ts, args[1:])
	err = cmd.Run()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else {
		ts.Check(err)
	}
	fmt.Fprint(ts.Stdout(), stdout.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
	if got != want {
		ts.Fatalf("rag %s: exit code %d, want %d\nstderr: %s", strings.Join(args[1:], " "), got, want, stderr.String())
	}
}

// ragCommand prepares the rag binary with the script's environment and folder.
func ragCommand(ts *testscript.TestScript, args []string) (*exec.Cmd, *strings.Builder, *strings.Builder) {
	bin, err := lookPath(ts.Getenv("PATH"), "rag")
	ts.Check(err)
	cmd := exec.Command(bin, args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = os.Environ()
	for _, k := range []string{"PATH", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "OLLAMA_HOST", "RAG_INDEX",
		"RAG_EMBED_MODEL", "RAG_CHAT_MODEL", "RAG_CONFIG", "RAG_OLLAMA_TIMING", "NO_COLOR", "TERM", "WORK", "TMPDIR",
		"OPENAI_BASE_URL", "OPENAI_API_KEY", "COHERE_API_KEY", "RAG_RERANK_API_KEY", "RAG_RERANK_API_KEY_ENV", "MY_RERANK_KEY",
		"RAG_STORE", "RAG_WEAVIATE_API_KEY"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// cmdInterrupt starts rag, waits until the fake Ollama has received a request
// to PATH (so rag is mid-work), sends SIGNAL, and checks that rag exits 130
// within 10 s: interrupt INT|TERM PATH ARGS...
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: interrupt INT|TERM PATH ARGS...")
	}
	sig := map[string]os.Signal{"INT": os.Interrupt, "TERM": syscall.SIGTERM}[args[0]]
	if sig == nil {
		ts.Fatalf("unknown signal %q", args[0])
	}
	f := ts.Value(fakeKey{}).(*fake)
	before := f.Calls(args[1])
	cmd, stdout, stderr := ragCommand(ts, args[2:])
	ts.Check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for f.Calls(args[1]) == before {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			ts.Fatalf("rag never called %s", args[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Check(cmd.Process.Signal(sig))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		ts.Fatalf("rag did not stop within 10s of SIG%s", args[0])
	}
	fmt.Fprint(ts.Stdout(), stdout.String())
	fmt.Fprint(ts.Stderr(), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		ts.Fatalf("rag exited %d after SIG%s, want 130\nstderr: %s", code, args[0], stderr.String())
	}
}

func lookPath(path, name string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}

// cmdSleep pauses the script: sleep DURATION.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}
