package main

import (
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
)

// mounted is a sandbox served under a path prefix.
type mounted struct {
	prefix  string
	handler http.Handler
	close   func() error
}

// otherSandboxes builds the Paysafe, Frisbii and Miva sandboxes.
func otherSandboxes(cfg config, log zerolog.Logger) ([]mounted, error) {
	ps, err := paysafe.NewSandbox(paysafe.Config{
		Prefix: "/paysafe", Username: cfg.paysafeUsername, Password: cfg.paysafePassword,
		BatchInterval: cfg.paysafeBatch, Logger: log.With().Str("provider", "paysafe").Logger(),
	})
	if err != nil {
		return nil, fmt.Errorf("paysafe sandbox: %w", err)
	}
	fr, err := frisbii.NewSandbox(frisbii.Config{
		Prefix: "/frisbii", APIKey: cfg.frisbiiAPIKey, Logger: log.With().Str("provider", "frisbii").Logger(),
	})
	if err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("frisbii sandbox: %w", err)
	}
	mv, err := miva.NewSandbox(miva.Config{
		Prefix: "/miva", APIToken: cfg.mivaAPIToken, SigningKey: cfg.mivaSigningKey,
		StoreCode: cfg.mivaStoreCode, Currency: cfg.mivaCurrency, Logger: log.With().Str("provider", "miva").Logger(),
	})
	if err != nil {
		_ = ps.Close()
		_ = fr.Close()
		return nil, fmt.Errorf("miva sandbox: %w", err)
	}
	return []mounted{
		{"/paysafe", ps.Handler(), ps.Close},
		{"/frisbii", fr.Handler(), fr.Close},
		{"/miva", mv.Handler(), mv.Close},
	}, nil
}
