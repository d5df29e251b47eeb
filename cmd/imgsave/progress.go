package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

func isTerm(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress draws "label  123.4 MiB  56.7 MiB/s" on one terminal line, at
// most ten times a second. A nil *progress draws nothing.
type progress struct {
	w     io.Writer
	label string
	start time.Time
	mu    sync.Mutex
	last  time.Time
	n     int64
}

// newProgress returns a progress line when w is a terminal and quiet is
// false, else nil.
func newProgress(w io.Writer, quiet bool, label string) *progress {
	if quiet || !isTerminal(w) {
		return nil
	}
	return &progress{w: w, label: label, start: time.Now()}
}

// Set records n bytes done; it is safe as an [archive.Options] callback.
func (p *progress) Set(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n = n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	rate := float64(p.n) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r\x1b[K%s  %s  %s/s", p.label, size(float64(p.n)), size(rate))
}

// Done clears the line.
func (p *progress) Done() { p.Clear() }

// Clear clears the line, before a notice is printed; the next Set draws it
// again.
func (p *progress) Clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K")
}

// Func returns Set as a callback, or nil for no progress.
func (p *progress) Func() func(int64) {
	if p == nil {
		return nil
	}
	return p.Set
}

func size(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
