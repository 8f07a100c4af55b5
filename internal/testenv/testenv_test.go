package testenv_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mgmtStatus returns the HTTP status of GET path on the management API.
func mgmtStatus(t *testing.T, mgmt, path string) int {
	t.Helper()
	u, err := url.Parse(mgmt)
	if err != nil {
		t.Fatal(err)
	}
	user := u.User
	u.User = nil
	req, err := http.NewRequest(http.MethodGet, u.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != nil {
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func vhostOf(t *testing.T, amqpURL string) string {
	t.Helper()
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	return uri.Vhost
}

func TestAMQPURLFreshVhost(t *testing.T) {
	var vhost, mgmt string
	t.Run("use", func(t *testing.T) {
		u := testenv.AMQPURL(t)
		mgmt = testenv.ManagementURL(t)
		vhost = vhostOf(t, u)
		if vhost == "" || vhost == "/" {
			t.Fatalf("AMQPURL %q: want a dedicated vhost", u)
		}
		if got := mgmtStatus(t, mgmt, "/api/vhosts/"+url.PathEscape(vhost)); got != http.StatusOK {
			t.Fatalf("vhost %q: management API status %d, want 200", vhost, got)
		}

		conn, err := amqp.Dial(u)
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()

		// Fresh: a passive declare of a queue that nobody made fails.
		probe, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := probe.QueueDeclarePassive("settlements", false, false, false, false, nil); err == nil {
			t.Fatal("queue settlements already exists in a fresh vhost")
		}

		q, err := ch.QueueDeclare("settlements", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ch.PublishWithContext(ctx, "", q.Name, false, false, amqp.Publishing{
			ContentType: "text/plain", Body: []byte("hello"),
		}); err != nil {
			t.Fatal(err)
		}
		var msg amqp.Delivery
		var ok bool
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			msg, ok, err = ch.Get(q.Name, true)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
		}
		if !ok || string(msg.Body) != "hello" {
			t.Fatalf("get: ok=%v body=%q, want hello", ok, msg.Body)
		}
	})
	if t.Failed() || t.Skipped() || vhost == "" {
		return
	}
	if got := mgmtStatus(t, mgmt, "/api/vhosts/"+url.PathEscape(vhost)); got != http.StatusNotFound {
		t.Fatalf("vhost %q after cleanup: management API status %d, want 404", vhost, got)
	}
}

func TestAMQPURLDistinct(t *testing.T) {
	a, b := testenv.AMQPURL(t), testenv.AMQPURL(t)
	if vhostOf(t, a) == vhostOf(t, b) {
		t.Fatalf("two calls returned the same vhost: %s", a)
	}
	// The vhosts are isolated: a queue in one is not visible in the other.
	ca, err := amqp.Dial(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := amqp.Dial(b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	cha, _ := ca.Channel()
	if _, err := cha.QueueDeclare("only-in-a", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	chb, _ := cb.Channel()
	_, err = chb.QueueDeclarePassive("only-in-a", false, false, false, false, nil)
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.NotFound {
		t.Fatalf("passive declare in the other vhost: %v, want NOT_FOUND", err)
	}
}

// TestRestartBroker restarts the shared broker, which drops the connections
// of every test running against it: it runs in make test's exclusive pass.
func TestRestartBroker(t *testing.T) {
	testenv.RequireExclusiveBroker(t)
	u := testenv.AMQPURL(t)
	conn, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, _ := conn.Channel()
	if _, err := ch.QueueDeclare("durable", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	testenv.RestartBroker(t)

	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("connection still open after RestartBroker")
	}
	conn2, err := amqp.Dial(u)
	if err != nil {
		t.Fatalf("dial after restart: %v", err)
	}
	defer conn2.Close()
	ch2, _ := conn2.Channel()
	if _, err := ch2.QueueDeclarePassive("durable", true, false, false, false, nil); err != nil {
		t.Fatalf("durable queue after restart: %v", err)
	}
}

func TestPostgresDSN(t *testing.T) {
	var dsn, other string
	t.Run("use", func(t *testing.T) {
		dsn = testenv.PostgresDSN(t)
		other = testenv.PostgresDSN(t)
		if dsn == other {
			t.Fatalf("two calls returned the same DSN %s", dsn)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("fresh database has %d tables", n)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE x (id int primary key)`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO x VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		// Left open on purpose: cleanup must drop the database anyway.
	})
	if t.Failed() || t.Skipped() || dsn == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatalf("database of %s still exists after cleanup", dsn)
	}
}

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with -race")
	}
	p := testenv.Binary(t, "./internal/testenv/testdata/hello")
	if again := testenv.Binary(t, "./internal/testenv/testdata/hello"); again != p {
		t.Fatalf("second Binary call: %s, want cached %s", again, p)
	}
	if filepath.Base(p) != "hello" {
		t.Fatalf("binary %s: want it named hello", p)
	}
	out, err := exec.Command(p, "a", "b").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", p, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "hello 2" {
		t.Fatalf("output %q, want %q", got, "hello 2")
	}
}
