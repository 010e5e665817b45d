package iostreams

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain ASCII", "hello, world", "hello, world"},
		{"UTF-8 text", "héllo wörld — 日本語 😀 café", "héllo wörld — 日本語 😀 café"},
		{"newline and tab kept", "a\tb\nc\n", "a\tb\nc\n"},
		{"empty", "", ""},
		{"CSI colour", "\x1b[31mred\x1b[0m text", "red text"},
		{"CSI cursor and clear", "\x1b[2J\x1b[H\x1b[10;20Hx", "x"},
		{"CSI private mode", "a\x1b[?25lb\x1b[?1049h", "ab"},
		{"CSI inside UTF-8", "日本\x1b[1m語", "日本語"},
		{"OSC title with BEL", "\x1b]0;evil title\x07text", "text"},
		{"OSC title with ST", "\x1b]2;evil\x1b\\text", "text"},
		{"OSC 8 hyperlink", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ here", "click here"},
		{"OSC 52 clipboard", "x\x1b]52;c;cm0gLXJmIH4=\x07y", "xy"},
		{"two-byte escape", "a\x1bMb\x1bDc\x1b\\d", "abcd"},
		{"lone ESC", "a\x1b", "a"},
		{"C0 controls", "a\x00b\x01c\x07d\x08e\rf\x0bg\x0ch\x1fi", "abcdefghi"},
		{"DEL", "a\x7fb", "ab"},
		{"C1 controls", "a\u0080b\u0085c\u009bd\u009de\u009f", "abcde"},
		{"NBSP and later kept", "a\u00a0b\u00ffc", "a\u00a0b\u00ffc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sanitize(tt.in)
			if got != tt.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsFunc(got, isControl) {
				t.Errorf("Sanitize(%q) = %q still holds a control", tt.in, got)
			}
			if again := Sanitize(got); again != got {
				t.Errorf("Sanitize is not idempotent: %q then %q", got, again)
			}
		})
	}
}

func tty(buf *bytes.Buffer, width int) *Progress {
	s := &Streams{Err: buf, ErrTTY: true, Width: width}
	return s.NewProgress()
}

func TestProgressOffTerminal(t *testing.T) {
	var out, errb bytes.Buffer
	p := Test(strings.NewReader(""), &out, &errb).NewProgress()
	p.Update("working %d", 1)
	p.Done()
	if out.Len()+errb.Len() != 0 {
		t.Errorf("progress off a terminal wrote %q / %q", out.String(), errb.String())
	}
}

func TestProgressOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := tty(&buf, 80)
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("Done before any Update wrote %q", buf.String())
	}
	p.Update("files %d/%d", 1, 3)
	if got, want := buf.String(), "\r\x1b[Kfiles 1/3"; got != want {
		t.Fatalf("Update wrote %q, want %q", got, want)
	}
	buf.Reset()
	p.Done()
	if got, want := buf.String(), "\r\x1b[K"; got != want {
		t.Errorf("Done wrote %q, want %q", got, want)
	}
	buf.Reset()
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("second Done wrote %q", buf.String())
	}
}

func TestProgressThrottles(t *testing.T) {
	var buf bytes.Buffer
	p := tty(&buf, 80)
	const n = 1000
	for i := range n {
		p.Update("step %d", i)
	}
	draws := strings.Count(buf.String(), "\r\x1b[K")
	if draws < 1 || draws > n/2 {
		t.Errorf("%d updates drew the line %d times, want it throttled", n, draws)
	}
	if !strings.HasPrefix(buf.String(), "\r\x1b[Kstep 0") {
		t.Errorf("first update not drawn at once: %q", buf.String()[:min(buf.Len(), 40)])
	}
}

func TestProgressSanitizesAndFits(t *testing.T) {
	var buf bytes.Buffer
	p := tty(&buf, 12)
	p.Update("%s", "a\x1b]0;title\x07b\x1b[2Jc日本語日本語日本語日本語")
	line := strings.TrimPrefix(buf.String(), "\r\x1b[K")
	if strings.ContainsRune(line, 0x1b) || strings.ContainsRune(line, 0x07) {
		t.Errorf("line holds control characters: %q", line)
	}
	if !strings.HasPrefix(line, "abc日本") {
		t.Errorf("line = %q", line)
	}
	if n := utf8.RuneCountInString(line); n > 11 {
		t.Errorf("line has %d runes, wider than the terminal's 12 columns minus one", n)
	}
	if !utf8.ValidString(line) {
		t.Errorf("line cut inside a rune: %q", line)
	}
}

func TestProgressNilAndConcurrent(t *testing.T) {
	var p *Progress
	p.Update("x %d", 1) // must not panic
	p.Done()

	var buf bytes.Buffer
	q := tty(&buf, 80)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				q.Update("g%d %d", i, j)
			}
		}()
	}
	wg.Wait()
	q.Done()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("Done did not clear the line: %q", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the spinner's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSpinner(t *testing.T) {
	var errBuf syncBuffer
	s := &Streams{Err: &errBuf, ErrTTY: true, Width: 80}
	sp := s.NewSpinner("waiting for llama3.2\x1b[31m")
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(errBuf.String(), "waiting for llama3.2") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sp.Stop()
	sp.Stop()
	got := errBuf.String()
	if strings.Count(got, "waiting for llama3.2") < 2 {
		t.Fatalf("the spinner did not turn: %q", got)
	}
	if strings.Contains(got, "\x1b[31m") {
		t.Error("the message was not sanitized")
	}
	if !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("Stop did not clear the line: %q", got)
	}
	time.Sleep(250 * time.Millisecond)
	if errBuf.String() != got {
		t.Error("the spinner wrote after Stop")
	}

	var pipe syncBuffer
	p := (&Streams{Err: &pipe, Width: 80}).NewSpinner("x")
	p.Stop()
	if pipe.String() != "" {
		t.Errorf("off a terminal the spinner wrote %q", pipe.String())
	}
}
