package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress shows long work (plan, backtest) on one line of a terminal,
// rewritten in place: the Metrics done, the evaluations replayed and the
// time left at the rate so far. It writes nothing when its stream is not
// a terminal, so piped and redirected output stays exactly the report.
// Its methods may be called from several goroutines.
type progress struct {
	w     io.Writer // nil: not a terminal
	label string
	now   func() time.Time
	every time.Duration

	mu            sync.Mutex
	start, drawn  time.Time
	metrics, done int
	// evaluations are the replay's total and done, summed over Metrics.
	evaluations, replayed int
	width                 int
}

// newProgress reports on w when w is a terminal.
func newProgress(w io.Writer, label string, metrics, evaluations int) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		w = nil
	}
	return newProgressTo(w, label, metrics, evaluations, time.Now)
}

// newProgressTo reports on w unconditionally (nil: nowhere), on the clock
// now.
func newProgressTo(w io.Writer, label string, metrics, evaluations int, now func() time.Time) *progress {
	return &progress{w: w, label: label, now: now, every: 200 * time.Millisecond, start: now(),
		metrics: metrics, evaluations: evaluations}
}

// evaluated records n more evaluations replayed.
func (p *progress) evaluated(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replayed += n
	p.draw(false)
}

// metricDone records one more Metric finished.
func (p *progress) metricDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.draw(true)
}

// finish clears the line, leaving the terminal as it was.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

// draw rewrites the line, at most every p.every unless forced.
func (p *progress) draw(force bool) {
	if p.w == nil {
		return
	}
	now := p.now()
	if !force && now.Sub(p.drawn) < p.every {
		return
	}
	p.drawn = now
	line := fmt.Sprintf("%s: %d/%d Metrics", p.label, p.done, p.metrics)
	if p.evaluations > 0 {
		line += fmt.Sprintf(", %d/%d evaluations", p.replayed, p.evaluations)
	}
	if left, ok := p.left(now); ok {
		line += fmt.Sprintf(", about %s left", left)
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
}

// left is the time the rest takes at the rate so far, by evaluations
// when they are counted, by Metrics otherwise; not known in the first
// two seconds.
func (p *progress) left(now time.Time) (time.Duration, bool) {
	done, total := p.done, p.metrics
	if p.evaluations > 0 {
		done, total = p.replayed, p.evaluations
	}
	elapsed := now.Sub(p.start)
	// The first seconds read sources and warm detectors: no rate yet.
	if done <= 0 || done >= total || elapsed < 2*time.Second {
		return 0, false
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return left.Round(time.Second), true
}

// forEach runs f(0) … f(n-1) on as many goroutines as the process may run
// at once (GOMAXPROCS): Metrics are independent, each with its own source
// connection and state, so a directory of them takes the time of its
// slowest share rather than of their sum. Callers keep results by index,
// so output order does not depend on scheduling.
func forEach(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
