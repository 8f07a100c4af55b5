package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseFlagsPhases(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{name: "defaults: open loop on for 20 s at half the maximum, no backlog", check: func(o options) bool {
			return o.openLoop && o.openLoopDuration == 20*time.Second && o.openLoopRate == 0 && o.backlog == 0
		}},
		{name: "open loop off", args: []string{"-openloop=false"}, check: func(o options) bool { return !o.openLoop }},
		{name: "open loop settings", args: []string{"-openloop-duration", "5s", "-openloop-rate", "80"}, check: func(o options) bool {
			return o.openLoopDuration == 5*time.Second && o.openLoopRate == 80
		}},
		{name: "backlog", args: []string{"-backlog", "100000"}, check: func(o options) bool { return o.backlog == 100000 }},
		{name: "negative backlog", args: []string{"-backlog", "-1"}, wantErr: "-backlog must be"},
		{name: "backlog with only the mixed run", args: []string{"-backlog", "10", "-only-mixed"}, wantErr: "-only-mixed and -backlog"},
		{name: "zero open-loop duration", args: []string{"-openloop-duration", "0s"}, wantErr: "-openloop-duration must be positive"},
		{name: "status consumers as request consumers by default, 16 on PostgreSQL", check: func(o options) bool {
			return o.statusConcurrency == 64 && o.pgStatusConcurrency == 16
		}},
		{name: "status consumers follow -concurrency", args: []string{"-concurrency", "32"}, check: func(o options) bool {
			return o.statusConcurrency == 32 && o.pgStatusConcurrency == 16
		}},
		{name: "status consumers set", args: []string{"-status-concurrency", "8", "-postgres-status-concurrency", "4"}, check: func(o options) bool {
			return o.statusConcurrency == 8 && o.pgStatusConcurrency == 4
		}},
		{name: "negative status consumers", args: []string{"-status-concurrency", "-1"}, wantErr: "-status-concurrency must be"},
		{name: "no PostgreSQL status consumers", args: []string{"-postgres-status-concurrency", "0"}, wantErr: "-postgres-status-concurrency must be"},
		{name: "negative open-loop rate", args: []string{"-openloop-rate", "-5"}, wantErr: "-openloop-rate must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("parseFlags(%q) = %+v", tt.args, o)
			}
		})
	}
}
