package main

import (
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90m", 90 * time.Minute, true},
		{"0s", 0, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1d30m", 24*time.Hour + 30*time.Minute, true},
		{"-1s", 0, false},
		{"d", 0, false},
		{"xd", 0, false},
		{"2days", 0, false},
		{"soon", 0, false},
		{"-1d", 0, false},
		{"1d-5h", 0, false},
		{"200000d", 0, false},
		{"106752d", 0, false},
		{"106751d", 106751 * 24 * time.Hour, true},
		{"106751d24h", 0, false},
		{"99999999999999999999d", 0, false},
	} {
		got, err := parseAge(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
