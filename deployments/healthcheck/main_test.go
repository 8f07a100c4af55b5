package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := run([]string{srv.URL + "/healthz"}); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	if err := run([]string{srv.URL + "/other"}); err == nil {
		t.Fatal("503: want an error")
	}
	if err := run(nil); err == nil {
		t.Fatal("no URL: want a usage error")
	}
	srv.Close()
	if err := run([]string{srv.URL + "/healthz"}); err == nil {
		t.Fatal("closed server: want an error")
	}
}
