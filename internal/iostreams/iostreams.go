// Package iostreams is where rag's commands meet the terminal: standard in,
// out and error, whether each is a terminal, and a progress line for long work.
// The terminal is detected once, here, and tests replace the whole thing.
// Data goes to Out; progress, warnings and hints go to Err.
package iostreams

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Streams are the three standard streams and what is known about them.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	InTTY, OutTTY, ErrTTY bool
	Width                 int // terminal width of Out, 80 when unknown
	Height                int // terminal height of Out, 0 when unknown
}

// System returns the process's own streams, probing each for a terminal.
// NO_COLOR or TERM=dumb turn off everything terminal-specific on Out and Err.
func System() *Streams {
	s := &Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Width: 80}
	plain := os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb"
	s.InTTY = term.IsTerminal(int(os.Stdin.Fd()))
	s.OutTTY = !plain && term.IsTerminal(int(os.Stdout.Fd()))
	s.ErrTTY = !plain && term.IsTerminal(int(os.Stderr.Fd()))
	if s.OutTTY {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.Width, s.Height = w, h
		}
	}
	return s
}

// Test returns streams over the given reader and writers, none a terminal.
func Test(in io.Reader, out, err io.Writer) *Streams {
	return &Streams{In: in, Out: out, Err: err, Width: 80}
}

// ansiRE matches CSI and OSC escape sequences and other ESC-introduced codes.
var ansiRE = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])`)

// Sanitize strips terminal control sequences and control characters (other
// than newline and tab) from text that came from documents or a model, so it
// cannot move the cursor, retitle the window or hide text when printed.
func Sanitize(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	s = ansiRE.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0
}

// Progress is a single status line redrawn on a terminal's stderr at most a few
// times a second. Off a terminal it prints nothing.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
	width int
}

// NewProgress returns a progress line on s.Err, active only when it is a terminal.
func (s *Streams) NewProgress() *Progress {
	return &Progress{w: s.Err, on: s.ErrTTY, width: s.Width}
}

// Update redraws the line, throttled to 10 times a second.
func (p *Progress) Update(format string, args ...any) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	line := Sanitize(fmt.Sprintf(format, args...))
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-1])
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.shown = true
}

// Done clears the line.
func (p *Progress) Done() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// spinnerFrames turn once a second at the spinner's rate.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Spinner is a turning mark and a message on a terminal's stderr, for a wait
// with nothing else to show (a model thinking before its first word). Off a
// terminal it prints nothing.
type Spinner struct {
	mu      sync.Mutex
	w       io.Writer
	msg     string
	stopped bool
	shown   bool
	done    chan struct{}
}

// NewSpinner starts a spinner with msg on s.Err when it is a terminal.
func (s *Streams) NewSpinner(msg string) *Spinner {
	sp := &Spinner{w: s.Err, msg: Sanitize(msg), done: make(chan struct{})}
	if !s.ErrTTY {
		sp.stopped = true
		return sp
	}
	if r := []rune(sp.msg); len(r) > s.Width-3 {
		sp.msg = string(r[:max(0, s.Width-3)])
	}
	sp.draw(0)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-sp.done:
				return
			case <-t.C:
				sp.draw(i)
			}
		}
	}()
	return sp
}

func (sp *Spinner) draw(i int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.stopped {
		return
	}
	fmt.Fprintf(sp.w, "\r\x1b[K%s %s", spinnerFrames[i%len(spinnerFrames)], sp.msg)
	sp.shown = true
}

// Stop clears the spinner's line, leaving the cursor at its start. After Stop
// returns the spinner writes nothing more. It may be called more than once.
func (sp *Spinner) Stop() {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.stopped {
		return
	}
	sp.stopped = true
	close(sp.done)
	if sp.shown {
		fmt.Fprint(sp.w, "\r\x1b[K")
	}
}
