// Package all lists the providers this build knows. A new provider is a
// folder under providers/ that exports a providers.Registration, plus one
// line here.
package all

import (
	"github.com/settlement-worker/settlement-worker/providers"
	"github.com/settlement-worker/settlement-worker/providers/frisbii"
	"github.com/settlement-worker/settlement-worker/providers/miva"
	"github.com/settlement-worker/settlement-worker/providers/paysafe"
	"github.com/settlement-worker/settlement-worker/providers/radial"
)

// Providers are the registered providers, in the order --help lists them.
var Providers = providers.Registry{radial.Provider, paysafe.Provider, frisbii.Provider, miva.Provider}
