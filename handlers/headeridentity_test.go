package handlers

import "testing"

// TestHeaderIdentity: a money header's identity is its trimmed value and
// the value of every header named like it in another case, so that two
// deliveries differing only under Charge_Handle are not the same request.
func TestHeaderIdentity(t *testing.T) {
	tests := []struct {
		name    string
		a, b    map[string]string
		same    bool
		wantOne string
	}{
		{"same exact value, spaces", map[string]string{"charge_handle": "O1"}, map[string]string{"charge_handle": " O1 "}, true, "O1"},
		{"absent and blank", map[string]string{}, map[string]string{"charge_handle": "  "}, true, ""},
		{"variant differs", map[string]string{"Charge_Handle": "O1"}, map[string]string{"Charge_Handle": "O2"}, false, "Charge_Handle=O1"},
		{"variant added", map[string]string{"charge_handle": "O1"}, map[string]string{"charge_handle": "O1", "CHARGE_HANDLE": "O2"}, false, "O1"},
		{"variant renamed", map[string]string{"Charge_Handle": "O1"}, map[string]string{"CHARGE_HANDLE": "O1"}, false, "Charge_Handle=O1"},
		{"other headers ignored", map[string]string{"charge_handle": "O1", "x": "1"}, map[string]string{"charge_handle": "O1", "x": "2"}, true, "O1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := headerIdentity(tc.a, "charge_handle", nil), headerIdentity(tc.b, "charge_handle", nil)
			if (a == b) != tc.same {
				t.Fatalf("identity %q vs %q: same = %v, want %v", a, b, a == b, tc.same)
			}
			if a != tc.wantOne {
				t.Fatalf("identity %q, want %q", a, tc.wantOne)
			}
		})
	}
}
