package main

import (
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers"
)

// providerClients builds a client for every enabled provider from its
// configuration section.
func providerClients(cfg config.Config) (map[string]providers.Provider, error) {
	hc := &http.Client{}
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
