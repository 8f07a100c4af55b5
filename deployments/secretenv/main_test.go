package main

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	files := map[string]string{
		"/run/secrets/rabbitmq_password": "rabbit-pw\n",
		"/run/secrets/radial_api_key":    "key\r\n",
		"/run/secrets/empty":             "\n",
	}
	read := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, fs.ErrNotExist
	}
	got, err := resolve([]string{
		"PATH=/usr/bin",
		"RABBITMQ_PASSWORD_FILE=/run/secrets/rabbitmq_password",
		"RADIAL_API_KEY_FILE=/run/secrets/radial_api_key",
		"AMQP_URL=amqp://settlement:${RABBITMQ_PASSWORD}@rabbitmq:5672/",
		"OTHER=${HOME} $RABBITMQ_PASSWORD",
	}, read)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PATH=/usr/bin",
		"AMQP_URL=amqp://settlement:rabbit-pw@rabbitmq:5672/",
		"OTHER=${HOME} $RABBITMQ_PASSWORD",
		"RABBITMQ_PASSWORD=rabbit-pw",
		"RADIAL_API_KEY=key",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	for _, bad := range [][]string{
		{"RADIAL_API_KEY=x", "RADIAL_API_KEY_FILE=/run/secrets/radial_api_key"},
		{"RADIAL_API_KEY_FILE=/run/secrets/missing"},
		{"RADIAL_API_KEY_FILE=/run/secrets/empty"},
	} {
		_, err := resolve(bad, read)
		if err == nil || !strings.Contains(err.Error(), "RADIAL_API_KEY") {
			t.Errorf("%q: error %v, want one naming RADIAL_API_KEY", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "key") && strings.Contains(err.Error(), "=x") {
			t.Errorf("%q: error leaks the value: %v", bad, err)
		}
	}
	// Unrelated environment passes through untouched.
	plain := []string{"A=1", "B=${A}"}
	if got, err := resolve(plain, read); err != nil || !slices.Equal(got, plain) {
		t.Fatalf("plain env: %q, %v", got, err)
	}
}
