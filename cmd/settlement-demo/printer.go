package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/settlement-worker/settlement-worker/messages"
)

// printer writes timestamped lines; goroutines share it.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

// raw writes s. The demo's test card number is masked on the way, whatever
// printed it (a reason the worker wrote, say; evaluate flags that too).
func (p *printer) raw(s string) {
	s = strings.ReplaceAll(s, testAccount, messages.MaskAccount(testAccount))
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, s)
}

// header is the first line.
func (p *printer) header(s string) { p.raw("== " + s + "\n") }

// section starts a block.
func (p *printer) section(s string) { p.raw("\n-- " + s + "\n") }

// say prints an untimed line.
func (p *printer) say(format string, args ...any) { p.raw(fmt.Sprintf(format, args...) + "\n") }

// step prints a timed line.
func (p *printer) step(format string, args ...any) {
	p.raw(stamp() + "  " + fmt.Sprintf(format, args...) + "\n")
}

// event prints a timed line with a fixed-width tag (PUBLISH, STATUS, ...).
func (p *printer) event(tag, format string, args ...any) {
	p.raw(fmt.Sprintf("%s  %-7s  %s\n", stamp(), tag, fmt.Sprintf(format, args...)))
}

// fail prints a problem, visibly.
func (p *printer) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.raw(stamp() + "  !! " + strings.ReplaceAll(msg, "\n", "\n     ") + "\n")
}

func stamp() string { return time.Now().Format("15:04:05.000") }
