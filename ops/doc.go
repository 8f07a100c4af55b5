// Package ops holds the operator commands of settlement-worker: reading,
// replaying and purging parked requests, showing a settlement's history,
// finding stuck settlements, queue and store statistics, publishing a
// request by hand and tailing status events.
//
// Every command is a function taking its dependencies explicitly (an Env:
// the broker URL, the store DSN, the provider names and the writers) and
// returning an error; cmd/settlement-worker wires them to the command line.
// The commands need the broker and the store only, never a provider's
// credentials, and open the store read-only (store.ReadOnly), so that they
// work beside a running worker, SQLite included.
//
// Files:
//
//   - ops.go: Env, connecting, formatting helpers.
//   - parked.go: List, Replay and Purge of parked requests (Filter).
//   - show.go: Show, a settlement's history from the store.
//   - stuck.go: Stuck, settlements waiting past a deadline.
//   - stats.go: Stats, queue depths and consumers, settlements per state.
//   - publish.go: Publish, a request sent by hand, waiting for its status.
//   - tail.go: Tail, status events as they are published.
//
// No command waits forever on a server that stopped answering: the store
// work runs within Env.Timeout (Env.storeCall), and a watchdog ends a
// command's broker connection when none of its steps got an answer for
// that long (Env.watch): a wedged node, or a connection RabbitMQ blocks at
// a resource alarm, keeps sending heartbeats, so the connection itself
// never times out.
//
// Nothing printed holds card data (accounts are masked with
// messages.MaskAccount; request and status bodies are never printed) or
// secrets (URLs are redacted).
package ops
