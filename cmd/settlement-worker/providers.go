package main

import (
	"fmt"
	"net/http"

	"github.com/settlement-worker/settlement-worker/config"
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	"github.com/settlement-worker/settlement-worker/providers/radial"
)

// providerClients builds a client for every enabled provider.
func providerClients(cfg config.Config) (map[string]providers.Provider, error) {
	hc := &http.Client{}
	build := map[string]func() (providers.Provider, error){
		"radial": func() (providers.Provider, error) {
			return radial.New(radial.Config{
				BaseURL: cfg.Radial.BaseURL, APIKey: cfg.Radial.APIKey,
				Version: cfg.Radial.APIVersion, Timeout: cfg.Radial.Timeout,
				SettleWindow: cfg.Radial.SettleWindow, StatusDeadline: cfg.Radial.StatusDeadline,
			}, hc)
		},
		"paysafe": func() (providers.Provider, error) {
			return paysafe.New(paysafe.Config{
				BaseURL: cfg.Paysafe.BaseURL, Username: cfg.Paysafe.Username, Password: cfg.Paysafe.Password,
				Accounts: cfg.Paysafe.Accounts, Currencies: cfg.Paysafe.Currencies,
				Timeout: cfg.Paysafe.Timeout, RecheckAfter: cfg.Paysafe.RecheckAfter, SettleWindow: cfg.Paysafe.SettleWindow,
			}, hc)
		},
		"frisbii": func() (providers.Provider, error) {
			return frisbii.New(frisbii.Config{
				BaseURL: cfg.Frisbii.BaseURL, APIKey: cfg.Frisbii.APIKey,
				Timeout: cfg.Frisbii.Timeout, RefundRecheck: cfg.Frisbii.RefundRecheck, SettleWindow: cfg.Frisbii.SettleWindow,
			}, hc)
		},
		"miva": func() (providers.Provider, error) {
			return miva.New(miva.Config{
				BaseURL: cfg.Miva.BaseURL, StoreCode: cfg.Miva.StoreCode, APIToken: cfg.Miva.APIToken,
				SigningKey: cfg.Miva.SigningKey, Timeout: cfg.Miva.Timeout, SettleWindow: cfg.Miva.SettleWindow,
			}, hc)
		},
	}
	out := map[string]providers.Provider{}
	for _, name := range cfg.Providers {
		b, ok := build[name]
		if !ok {
			return nil, fmt.Errorf("provider %s has no client", name)
		}
		p, err := b()
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}
