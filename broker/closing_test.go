package broker

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestCloseWithin: a close that returns in time is not forced; one that
// waits past the grace is forced and its answer returned; one that the
// force does not end is left after a second grace, with errNoAnswer.
func TestCloseWithin(t *testing.T) {
	const grace = 200 * time.Millisecond
	errClose := errors.New("close failed")
	tests := []struct {
		name string
		// close waits for unblock when wait; force closes unblock when
		// forceEnds.
		wait, forceEnds bool
		want            error
		wantForced      bool
		maxTook         time.Duration
	}{
		{name: "answers in time", want: errClose, maxTook: grace / 2},
		{name: "forced", wait: true, forceEnds: true, want: errClose, wantForced: true, maxTook: grace + grace/2},
		{name: "not even forced", wait: true, want: errNoAnswer, wantForced: true, maxTook: 2*grace + grace/2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unblock := make(chan struct{})
			defer func() {
				select {
				case <-unblock:
				default:
					close(unblock) // let a close left waiting end
				}
			}()
			var forced atomic.Bool
			closeFn := func() error {
				if tt.wait {
					<-unblock
				}
				return errClose
			}
			force := func() {
				forced.Store(true)
				if tt.forceEnds {
					close(unblock)
				}
			}
			start := time.Now()
			err := closeWithin(grace, closeFn, force)
			took := time.Since(start)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if forced.Load() != tt.wantForced {
				t.Errorf("forced %v, want %v", forced.Load(), tt.wantForced)
			}
			if took > tt.maxTook {
				t.Errorf("took %s, want at most %s", took, tt.maxTook)
			}
		})
	}
}
