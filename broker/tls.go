package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TLSFiles names the PEM files used by amqps:// connections: the CA that
// signed the broker's certificate (empty: the system's roots) and, for
// brokers that verify clients (RabbitMQ's fail_if_no_peer_cert), a client
// certificate and its key.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Load builds the TLS configuration, or nil when no file is named (amqps://
// then verifies the broker against the system's roots). Errors name the
// file that could not be used, never its content.
func (f TLSFiles) Load() (*tls.Config, error) {
	if f.CAFile == "" && f.CertFile == "" && f.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", f.CAFile)
		}
		c.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("a client certificate needs both its certificate file and its key file")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", f.CertFile, f.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

var (
	tlsMu     sync.RWMutex
	tlsConfig *tls.Config
)

// UseTLS sets the TLS configuration of every amqps:// connection this
// package makes from now on (the composition root calls it once, from
// AMQP_TLS_*; nil: the system's roots).
func UseTLS(c *tls.Config) {
	tlsMu.Lock()
	defer tlsMu.Unlock()
	tlsConfig = c
}

// dialConfig is the amqp091 configuration of every connection: heartbeats,
// a connection name the management UI shows, and the TLS settings.
func dialConfig(name string) amqp.Config {
	tlsMu.RLock()
	defer tlsMu.RUnlock()
	c := amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US", Properties: amqp.Table{"connection_name": name}}
	if tlsConfig != nil {
		c.TLSClientConfig = tlsConfig.Clone()
	}
	return c
}

// DialConfig is the amqp091 configuration this package dials with (TLS
// included), for callers that dial once themselves (operator commands).
func DialConfig(name string) amqp.Config { return dialConfig(name) }
