package main

import (
	"fmt"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers"
)

// providerClients builds a client for every enabled provider from its
// configuration section. They share one HTTP client whose transport keeps
// enough idle connections per provider host for every settlement in
// flight (providers.HTTPClient); each call is bounded by its provider's
// TIMEOUT.
func providerClients(cfg config.Config) (map[string]providers.Provider, error) {
	hc := providers.HTTPClient(0)
	out := map[string]providers.Provider{}
	for _, name := range cfg.Providers {
		sec, ok := cfg.Sections[name]
		if !ok {
			return nil, fmt.Errorf("provider %s is not registered", name)
		}
		p, err := sec.NewProvider(hc)
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}
