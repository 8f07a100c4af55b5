// Package kit holds the scaffolding the provider sandboxes (radial,
// paysafe, frisbii, miva) share: the JSON admin API's server side
// (loopback guard, strict bodies, error replies) and its client, the fault
// knobs every endpoint has and how a call applies them, and a few small
// helpers of their constructors.
//
// What a provider answers stays in its own package: its error bodies, its
// Faults type (its JSON and documentation are part of its API), its call
// counters and its routes. kit only takes callbacks and views where those
// differ.
package kit
