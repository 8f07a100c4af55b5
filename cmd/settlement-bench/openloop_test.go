package main

import (
	"math"
	"testing"
	"time"
)

func TestOpenLoopPlan(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		d        time.Duration
		interval time.Duration
		n        int
		wantErr  bool
	}{
		{name: "half of 245/s for 20 s", rate: 122.5, d: 20 * time.Second, interval: 8163265 * time.Nanosecond, n: 2450},
		{name: "100/s for 20 s", rate: 100, d: 20 * time.Second, interval: 10 * time.Millisecond, n: 2000},
		{name: "fractional count rounds", rate: 3, d: 1500 * time.Millisecond, interval: 333333333 * time.Nanosecond, n: 5},
		{name: "at least one request", rate: 0.1, d: time.Second, interval: 10 * time.Second, n: 1},
		{name: "fast rate, sub-millisecond interval", rate: 4000, d: time.Second, interval: 250 * time.Microsecond, n: 4000},
		{name: "zero rate", rate: 0, d: time.Second, wantErr: true},
		{name: "negative rate", rate: -1, d: time.Second, wantErr: true},
		{name: "NaN rate", rate: math.NaN(), d: time.Second, wantErr: true},
		{name: "infinite rate", rate: math.Inf(1), d: time.Second, wantErr: true},
		{name: "rate beyond a nanosecond interval", rate: 2e9, d: time.Second, wantErr: true},
		{name: "zero duration", rate: 10, d: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			interval, n, err := openLoopPlan(tt.rate, tt.d)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("openLoopPlan(%v, %v) = %v, %d, want an error", tt.rate, tt.d, interval, n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if interval != tt.interval || n != tt.n {
				t.Errorf("openLoopPlan(%v, %v) = %v, %d, want %v, %d", tt.rate, tt.d, interval, n, tt.interval, tt.n)
			}
		})
	}
}

func TestOpenLoopRate(t *testing.T) {
	tests := []struct {
		name       string
		flag       float64
		radial0    float64
		want       float64
		wantSource string
	}{
		{name: "half the Radial 0 ms run", radial0: 245, want: 122.5, wantSource: "0.50 × the Radial 0 ms run's 245/s"},
		{name: "the flag wins", flag: 80, radial0: 245, want: 80, wantSource: "-openloop-rate"},
		{name: "the flag without a Radial 0 ms run", flag: 80, want: 80, wantSource: "-openloop-rate"},
		{name: "neither", want: 0, wantSource: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, source := openLoopRate(tt.flag, tt.radial0)
			if got != tt.want || source != tt.wantSource {
				t.Errorf("openLoopRate(%v, %v) = %v, %q, want %v, %q", tt.flag, tt.radial0, got, source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestDueBy(t *testing.T) {
	const iv = 10 * time.Millisecond
	tests := []struct {
		name     string
		elapsed  time.Duration
		interval time.Duration
		n        int
		want     int
	}{
		{name: "the first at once", elapsed: 0, interval: iv, n: 100, want: 1},
		{name: "just before the second", elapsed: iv - 1, interval: iv, n: 100, want: 1},
		{name: "the second on time", elapsed: iv, interval: iv, n: 100, want: 2},
		{name: "a late tick catches up", elapsed: 55 * time.Millisecond, interval: iv, n: 100, want: 6},
		{name: "never more than n", elapsed: time.Hour, interval: iv, n: 100, want: 100},
		{name: "before the start", elapsed: -time.Millisecond, interval: iv, n: 100, want: 0},
		{name: "no interval: all at once", elapsed: 0, interval: 0, n: 7, want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dueBy(tt.elapsed, tt.interval, tt.n); got != tt.want {
				t.Errorf("dueBy(%v, %v, %d) = %d, want %d", tt.elapsed, tt.interval, tt.n, got, tt.want)
			}
		})
	}
}
