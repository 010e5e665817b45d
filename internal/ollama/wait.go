package ollama

import (
	"sync"
	"time"
)

// waiter calls the client's OnWait while one call has had no answer for
// WaitNotice, and every WaitEvery after that, until stopped. touch restarts
// the count (a streamed piece arrived).
type waiter struct {
	c       *Client
	mu      sync.Mutex
	since   time.Time
	t       *time.Timer
	done    bool
	tries   int
	lastErr error
}

// Wait describes a call that has had no usable answer for a while.
type Wait struct {
	Host   string
	Waited time.Duration
	// Tries is how many requests failed so far, LastErr the last failure;
	// 0 and nil while the first request is still waiting.
	Tries   int
	LastErr error
}

func (c *Client) watch() *waiter {
	w := &waiter{c: c, since: time.Now()}
	if c.OnWait == nil || c.Timing.WaitNotice <= 0 {
		w.done = true
		return w
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = time.AfterFunc(c.Timing.WaitNotice, w.fire)
	return w
}

func (w *waiter) fire() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	ev := Wait{Host: w.c.Host(), Waited: time.Since(w.since), Tries: w.tries, LastErr: w.lastErr}
	w.t.Reset(max(w.c.Timing.WaitEvery, 10*time.Millisecond))
	w.mu.Unlock()
	w.c.notify(ev)
}

func (w *waiter) touch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.since = time.Now()
	w.t.Reset(w.c.Timing.WaitNotice)
}

// note records a try's failure, for the notice, and returns err.
func (w *waiter) note(err error) error {
	if err == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tries++
	w.lastErr = err
	return err
}

func (w *waiter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Stop()
	}
	w.done = true
}

// notify calls OnWait, at most once per half WaitEvery for the whole client,
// so that parallel calls waiting on one server give one notice, not one each.
func (c *Client) notify(ev Wait) {
	c.waitMu.Lock()
	now := time.Now()
	if !c.lastNotice.IsZero() && now.Sub(c.lastNotice) < c.Timing.WaitEvery/2 {
		c.waitMu.Unlock()
		return
	}
	c.lastNotice = now
	c.waitMu.Unlock()
	c.OnWait(ev)
}
