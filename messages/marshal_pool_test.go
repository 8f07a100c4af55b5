package messages

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Encode with its pooled encoders writes exactly what xml.Marshal writes,
// also after an encoding that failed, and from goroutines at once.
func TestEncodeMatchesXMLMarshal(t *testing.T) {
	st := PaymentSettlementStatus{SettlementStatus: StatusSettled, DeclineReason: "a < b & \"c\""}
	req := validRequest()
	values := []any{st, req, &st}
	want := make([][]byte, len(values))
	for i, v := range values {
		b, err := xml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = append([]byte(xmlHeader), b...)
	}
	check := func() {
		for i, v := range values {
			got, err := Encode(v)
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, want[i]) {
				t.Errorf("Encode(%T) = %s, want %s", v, got, want[i])
			}
		}
	}
	check()
	// A value that cannot be encoded fails, and leaves nothing behind.
	if _, err := Encode(struct{ F func() }{func() {}}); err == nil {
		t.Error("Encode of a func field: no error")
	}
	if _, err := Encode(struct {
		XMLName xml.Name `xml:"A"`
		B       struct{ C chan int }
	}{}); err == nil {
		t.Error("Encode of a nested chan: no error")
	}
	check()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				check()
			}
		}()
	}
	wg.Wait()
	if req.Fingerprint() != req.Fingerprint() || len(req.Fingerprint()) != 64 {
		t.Errorf("Fingerprint %q: want a stable hex SHA-256", req.Fingerprint())
	}
}

// Encode allocates about the document, not xml.Marshal's 4 KiB encoder
// buffer per call.
func TestEncodeDoesNotAllocateAnEncoderPerCall(t *testing.T) {
	st := PaymentSettlementStatus{SettlementStatus: StatusSettled}
	if _, err := Encode(st); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		if _, err := Encode(st); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes per Encode", per)
	if per >= 4096 {
		t.Errorf("Encode allocated %d bytes per call, want less than xml.Marshal's 4 KiB buffer", per)
	}
}

// Fingerprints recorded by earlier versions (sha256 of xml.Marshal) are
// the ones computed now: a duplicate of a recorded request still matches.
func TestFingerprintIsTheRecordedOne(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "request_*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no request samples: %v", err)
	}
	for _, f := range files {
		req, err := DecodeSettlementRequest(readGolden(t, filepath.Base(f)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b, err := xml.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got, want := req.Fingerprint(), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: Fingerprint %s, want %s (sha256 of xml.Marshal)", f, got, want)
		}
	}
}
