package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

var (
	dockerOnce sync.Once
	dockerOK   bool
	dockerWhy  string
)

// dockerAvailable reports whether a Docker engine answers (checked once).
func dockerAvailable() bool {
	dockerOnce.Do(func() {
		if os.Getenv("TESTENV_NO_DOCKER") != "" {
			dockerWhy = "TESTENV_NO_DOCKER is set"
			return
		}
		defer func() {
			if r := recover(); r != nil {
				dockerOK = false
				dockerWhy = fmt.Sprint("docker provider panicked: ", r)
			}
		}()
		p, err := testcontainers.ProviderDefault.GetProvider()
		if err != nil {
			dockerWhy = err.Error()
			return
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Health(ctx); err != nil {
			dockerWhy = err.Error()
			return
		}
		dockerOK = true
	})
	return dockerOK
}

// terminateOnShutdown registers the container for termination in Shutdown.
func terminateOnShutdown(c testcontainers.Container) {
	onShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Terminate(ctx)
	})
}
