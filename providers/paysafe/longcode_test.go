package paysafe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/settlement-worker/settlement-worker/providers"
)

// TestLongErrorCodeIsCut: Paysafe's error code went whole into the
// reason and the error's code (its message was already cut at 200
// bytes): an answer of up to 1 MiB was logged at every attempt and stored
// with the settlement. The code quoted is now cut, after the masking.
func TestLongErrorCodeIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"code":"`+strings.Repeat("9", 900<<10)+`","message":"m"}}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := newClient(t, srv.URL, user, pass).Settle(ctx, debit("lc-1", "auth-1", "10.00", "USD"))
	checkErr(t, err, providers.Transient, "", "HTTP 500")
	if n := len(err.Error()); n > 1000 {
		t.Errorf("error of %d bytes", n)
	}
}
