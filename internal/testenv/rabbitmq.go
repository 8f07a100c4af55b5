package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	noBrokerMsg = "no broker: set AMQP_URL or run make test"

	// RabbitMQImage is the image used when the broker comes from Docker.
	RabbitMQImage = "rabbitmq:3.13-management"

	restartTimeout = 2 * time.Minute
)

// broker is the RabbitMQ server behind AMQPURL.
type broker struct {
	amqpURL *url.URL // base URL; its vhost is replaced per test
	mgmtURL *url.URL // management API base, with credentials
	source  string   // "env" or "docker"

	// local broker (source "env")
	node string // RABBITMQ_NODE
	ctl  string // RABBITMQ_CTL, else rabbitmqctl

	// container broker (source "docker")
	container testcontainers.Container
}

var (
	brokerOnce sync.Once
	brokerVal  *broker
	brokerErr  error // set when a configured broker is unusable
	restartMu  sync.Mutex
)

func getBroker(t testing.TB) *broker {
	t.Helper()
	brokerOnce.Do(func() { brokerVal, brokerErr = resolveBroker() })
	if brokerErr != nil {
		t.Fatalf("testenv: broker: %v", brokerErr)
	}
	if brokerVal == nil {
		unavailable(t, noBrokerMsg)
	}
	return brokerVal
}

func resolveBroker() (*broker, error) {
	if raw := os.Getenv("AMQP_URL"); raw != "" {
		return brokerFromEnv(raw, os.Getenv("RABBITMQ_MANAGEMENT_URL"))
	}
	if dockerAvailable() {
		return brokerFromDocker()
	}
	return nil, nil
}

func brokerFromEnv(rawAMQP, rawMgmt string) (*broker, error) {
	u, err := url.Parse(rawAMQP)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, fmt.Errorf("AMQP_URL %q is not an amqp:// URL", redact(rawAMQP))
	}
	if u.User == nil {
		u.User = url.UserPassword("guest", "guest")
	}
	var m *url.URL
	if rawMgmt != "" {
		m, err = url.Parse(rawMgmt)
		if err != nil || m.Host == "" {
			return nil, fmt.Errorf("RABBITMQ_MANAGEMENT_URL %q is not an http(s) URL", redact(rawMgmt))
		}
		if m.User == nil {
			m.User = u.User
		}
	} else {
		m = &url.URL{Scheme: "http", User: u.User, Host: net.JoinHostPort(u.Hostname(), "15672")}
	}
	m.Path, m.RawPath = "", ""
	b := &broker{
		amqpURL: u,
		mgmtURL: m,
		source:  "env",
		node:    os.Getenv("RABBITMQ_NODE"),
		ctl:     os.Getenv("RABBITMQ_CTL"),
	}
	return b, nil
}

func brokerFromDocker() (*broker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        RabbitMQImage,
			ExposedPorts: []string{"5672/tcp", "15672/tcp"},
			// The broker settings the project's brokers all have
			// (deployments/rabbitmq/advanced.config).
			Files: []testcontainers.ContainerFile{{HostFilePath: advancedConfigPath(), ContainerFilePath: "/etc/rabbitmq/advanced.config", FileMode: 0o644}},
			WaitingFor: wait.ForAll(
				wait.ForListeningPort("5672/tcp"),
				wait.ForHTTP("/api/overview").WithPort("15672/tcp").
					WithBasicAuth("guest", "guest"),
			).WithDeadline(3 * time.Minute),
		},
		Started: true,
	})
	if c != nil {
		terminateOnShutdown(c)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s container: %w", RabbitMQImage, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		return nil, err
	}
	ap, err := c.MappedPort(ctx, "5672/tcp")
	if err != nil {
		return nil, err
	}
	mp, err := c.MappedPort(ctx, "15672/tcp")
	if err != nil {
		return nil, err
	}
	user := url.UserPassword("guest", "guest")
	return &broker{
		amqpURL:   &url.URL{Scheme: "amqp", User: user, Host: net.JoinHostPort(host, fmt.Sprint(ap.Num())), Path: "/"},
		mgmtURL:   &url.URL{Scheme: "http", User: user, Host: net.JoinHostPort(host, fmt.Sprint(mp.Num()))},
		source:    "docker",
		container: c,
	}, nil
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// vhostURL returns the broker's AMQP URL for vhost.
func (b *broker) vhostURL(vhost string) string {
	u := *b.amqpURL
	u.Path = "/" + vhost
	u.RawPath = "/" + url.PathEscape(vhost)
	return u.String()
}

// mgmt calls the management HTTP API. It returns the status code; a non-2xx
// status other than those in ok is an error.
func (b *broker) mgmt(ctx context.Context, method, path string, body any, ok ...int) (int, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(buf)
	}
	u := *b.mgmtURL
	u.User = nil
	req, err := http.NewRequestWithContext(ctx, method, u.String()+path, rd)
	if err != nil {
		return 0, err
	}
	if b.mgmtURL.User != nil {
		pass, _ := b.mgmtURL.User.Password()
		req.SetBasicAuth(b.mgmtURL.User.Username(), pass)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	for _, c := range ok {
		if resp.StatusCode == c {
			return resp.StatusCode, nil
		}
	}
	return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
}

// AMQPURL returns the amqp:// URL of a fresh, empty vhost on the test broker,
// with full permissions for the broker's user. The vhost is created through
// the management HTTP API and deleted, with everything in it, in t.Cleanup.
//
// Without a broker (see the package doc) the test fails when CI is set and
// is skipped otherwise.
func AMQPURL(t testing.TB) string {
	t.Helper()
	b := getBroker(t)
	vhost := "t-" + sanitize(t.Name(), 40) + "-" + randomHex(4)
	user := b.amqpURL.User.Username()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.mgmt(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), map[string]any{}); err != nil {
		t.Fatalf("testenv: create vhost %q on %s broker (management %s): %v", vhost, b.source, b.mgmtURL.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := b.mgmt(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), nil, http.StatusNotFound); err != nil {
			t.Errorf("testenv: delete vhost %q: %v", vhost, err)
		}
	})
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	if _, err := b.mgmt(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(user), perms); err != nil {
		t.Fatalf("testenv: grant %s on vhost %q: %v", user, vhost, err)
	}
	return b.vhostURL(vhost)
}

// ManagementURL returns the base URL of the test broker's management HTTP
// API, with credentials (e.g. http://guest:guest@127.0.0.1:15672).
func ManagementURL(t testing.TB) string {
	t.Helper()
	return getBroker(t).mgmtURL.String()
}

// RestartBroker restarts the RabbitMQ application of the test broker
// (rabbitmqctl stop_app, then start_app), which closes every client
// connection, and returns once AMQP accepts connections again. Vhosts and
// durable queues survive.
//
// For the local broker it runs `$RABBITMQ_CTL -n $RABBITMQ_NODE` (RABBITMQ_CTL
// defaults to rabbitmqctl; both are exported by scripts/rabbitmq.sh). For
// the container broker it runs rabbitmqctl inside the container, so that
// the mapped ports stay the same.
//
// The broker is shared by every test package that runs at the same time, and
// their connections would drop too: RestartBroker first calls
// RequireExclusiveBroker, so it runs only in make test's exclusive pass.
// Name such tests *RestartBroker* or *BrokerRestart* so that pass picks
// them up.
func RestartBroker(t testing.TB) {
	t.Helper()
	RequireExclusiveBroker(t)
	b := getBroker(t)
	restartMu.Lock()
	defer restartMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
	defer cancel()

	switch b.source {
	case "docker":
		for _, cmd := range [][]string{{"rabbitmqctl", "stop_app"}, {"rabbitmqctl", "start_app"}} {
			code, out, err := b.container.Exec(ctx, cmd)
			if err != nil || code != 0 {
				var msg []byte
				if out != nil {
					msg, _ = io.ReadAll(out)
				}
				t.Fatalf("testenv: %s in container: exit %d, %v: %s", strings.Join(cmd, " "), code, err, msg)
			}
		}
	default:
		if b.node == "" {
			unavailable(t, "testenv: RestartBroker needs RABBITMQ_NODE (and RABBITMQ_CTL) of the broker behind AMQP_URL: use scripts/rabbitmq.sh or make test")
		}
		ctl := b.ctl
		if ctl == "" {
			ctl = findRabbitmqctl()
		}
		for _, sub := range []string{"stop_app", "start_app"} {
			cmd := exec.CommandContext(ctx, ctl, "-n", b.node, sub)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("testenv: %s -n %s %s: %v\n%s", ctl, b.node, sub, err, out)
			}
		}
	}
	if err := b.waitReady(ctx); err != nil {
		t.Fatalf("testenv: broker not ready after restart: %v", err)
	}
}

// ExclusiveBrokerEnv names the environment variable that says that nothing
// else uses the test broker: make test sets it for a second pass,
// `go test -p 1 -run 'RestartBroker|BrokerRestart' ./...`.
const ExclusiveBrokerEnv = "TESTENV_EXCLUSIVE_BROKER"

// RequireExclusiveBroker skips the test unless TESTENV_EXCLUSIVE_BROKER is
// set. Call it first in tests that disrupt the shared broker (restarts,
// policies on "/"...), so that their setup is not wasted; RestartBroker
// calls it too.
func RequireExclusiveBroker(t testing.TB) {
	t.Helper()
	if os.Getenv(ExclusiveBrokerEnv) == "" {
		t.Skip("disrupts the shared broker: runs only with " + ExclusiveBrokerEnv + "=1 (make test runs it in an exclusive pass)")
	}
}

// findRabbitmqctl prefers the unwrapped rabbitmqctl: Debian's
// /usr/sbin/rabbitmqctl switches to the rabbitmq user and its cookie.
func findRabbitmqctl() string {
	const debian = "/usr/lib/rabbitmq/bin/rabbitmqctl"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	return "rabbitmqctl"
}

// waitReady waits until the broker accepts AMQP connections and the
// management API answers.
func (b *broker) waitReady(ctx context.Context) error {
	var last error
	for {
		last = b.ping(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *broker) ping(ctx context.Context) error {
	conn, err := amqp.DialConfig(b.vhostURL(""), amqp.Config{
		Dial: amqp.DefaultDial(5 * time.Second),
	})
	if err != nil {
		return fmt.Errorf("amqp: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		_ = ch.Close()
	}
	_ = conn.Close()
	if err != nil {
		return fmt.Errorf("amqp channel: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = b.mgmt(pctx, http.MethodGet, "/api/overview", nil)
	return err
}

// BrokerEval evaluates an Erlang expression on the test broker's node
// (rabbitmqctl eval) and returns what it prints: for tests of the broker's
// own settings. It needs RABBITMQ_NODE (scripts/rabbitmq.sh, make test) or
// the Docker broker.
func BrokerEval(t testing.TB, expr string) string {
	t.Helper()
	b := getBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b.source == "docker" {
		code, out, err := b.container.Exec(ctx, []string{"rabbitmqctl", "eval", expr})
		var msg []byte
		if out != nil {
			msg, _ = io.ReadAll(out)
		}
		if err != nil || code != 0 {
			t.Fatalf("testenv: rabbitmqctl eval in container: exit %d, %v: %s", code, err, msg)
		}
		return strings.TrimSpace(string(msg))
	}
	if b.node == "" {
		unavailable(t, "testenv: BrokerEval needs RABBITMQ_NODE (and RABBITMQ_CTL) of the broker behind AMQP_URL: use scripts/rabbitmq.sh or make test")
	}
	ctl := b.ctl
	if ctl == "" {
		ctl = findRabbitmqctl()
	}
	out, err := exec.CommandContext(ctx, ctl, "-n", b.node, "eval", expr).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: %s -n %s eval: %v\n%s", ctl, b.node, err, out)
	}
	return strings.TrimSpace(string(out))
}

// advancedConfigPath is deployments/rabbitmq/advanced.config in this
// module's tree.
func advancedConfigPath() string {
	_, file, _, _ := runtime.Caller(0) // internal/testenv/rabbitmq.go
	return filepath.Join(filepath.Dir(file), "..", "..", "deployments", "rabbitmq", "advanced.config")
}
