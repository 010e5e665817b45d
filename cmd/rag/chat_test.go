package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/ollama/ollama/api"
)

// TestChatOnTerminal drives `rag chat` in a pseudo-terminal, as a person at
// a keyboard would: a question whose answer streams slowly, Ctrl-C half-way
// (the answer stops, the prompt comes back, the conversation goes on), the
// up arrow (the last line comes back to be sent again), and Ctrl-D (the end,
// exit 0).
func TestChatOnTerminal(t *testing.T) {
	fake, env, _ := serveFixture(t, keyNotes)
	const first = "Rotate the key with keyctl rotate [1], and then"
	const tail = "NEVER-SHOWN-TAIL after the cancel."
	fake.SetChatReply(func(api.ChatRequest) string { return first + " " + strings.Repeat("wait ", 60) + tail })
	fake.SetChunkDelay(100 * time.Millisecond) // 3 words a piece: 2 s and more for the whole answer

	cmd := exec.Command(ragBinary(t), "chat")
	cmd.Env = append(env, "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer tty.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	var screen syncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	// waitFor waits up to 20 s until what the terminal shows after offset
	// contains want, and returns the offset just past it.
	waitFor := func(offset int, want string) int {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			s := screen.String()
			if i := strings.Index(s[min(offset, len(s)):], want); i >= 0 {
				return offset + i + len(want)
			}
		}
		t.Fatalf("the terminal never showed %q; it shows:\n%q", want, screen.String()[min(offset, len(screen.String())):])
		return 0
	}
	type_ := func(keys string) {
		t.Helper()
		if _, err := tty.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}

	at := waitFor(0, "rag> ")
	type_("how do I rotate the signing key?\r")
	at = waitFor(at, "Rotate the key")
	chats := fake.Chats()
	type_("\x03") // Ctrl-C while the answer is being written
	at = waitFor(at, "(answer cancelled)")
	at = waitFor(at, "rag> ")
	time.Sleep(500 * time.Millisecond) // the stream, had it gone on, would have written more meanwhile
	if s := screen.String(); strings.Contains(s, tail) || strings.Contains(s[at:], "wait wait") {
		t.Fatalf("the answer went on after Ctrl-C:\n%q", s[at:])
	}
	if fake.Chats() != chats {
		t.Errorf("Ctrl-C made another chat call")
	}

	// The up arrow recalls the question; Enter sends it again, now
	// answered at once and in full.
	fake.SetChunkDelay(0)
	fake.SetChatReply(func(api.ChatRequest) string { return "Run keyctl rotate [1]." })
	type_("\x1b[A")
	at = waitFor(at, "how do I rotate the signing key?")
	type_("\r")
	at = waitFor(at, "Run keyctl rotate [1].")
	at = waitFor(at, "Sources:")
	at = waitFor(at, "keys.md")
	if last := fake.LastChat(); len(last.Messages) == 0 || !strings.Contains(last.Messages[len(last.Messages)-1].Content, "how do I rotate the signing key?") {
		t.Errorf("the recalled line was not what was asked: %+v", last.Messages)
	}
	waitFor(at, "rag> ")

	type_("\x04") // Ctrl-D at an empty prompt
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("rag chat still running 20 s after Ctrl-D:\n%q", screen.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d after Ctrl-D, want 0:\n%q", code, screen.String())
	}
}
