package worker

import (
	"context"
	"time"

	"github.com/settlement-worker/settlement-worker/store"
)

// WatchKeyCheckWith makes the keyless replica's watcher look every every,
// reading the store's key check through read, until restore is called
// (after the workers using it stopped).
func WatchKeyCheckWith(every time.Duration, read func(context.Context, store.Store) (bool, error)) (restore func()) {
	prevEvery, prevRead := keyCheckEvery, keyCheckRecorded
	keyCheckEvery, keyCheckRecorded = every, read
	return func() { keyCheckEvery, keyCheckRecorded = prevEvery, prevRead }
}
