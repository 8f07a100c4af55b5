package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The vhosts of one benchmark run, as suffixes of bench-<random>.
const (
	vhostRaw    = "raw"
	vhostWorker = "worker"
	vhostRadial = "radial"
)

// vhosts are the fresh vhosts of one run, created through the RabbitMQ
// management API with full permissions for the AMQP user.
type vhosts struct {
	amqp    *url.URL
	mgmt    *url.URL
	prefix  string
	created []string
}

func newVhosts(ctx context.Context, amqpURL, mgmtURL string) (*vhosts, error) {
	a, err := url.Parse(amqpURL)
	if err != nil || (a.Scheme != "amqp" && a.Scheme != "amqps") || a.Host == "" {
		return nil, fmt.Errorf("AMQP_URL %q is not an amqp:// URL", redactURL(amqpURL))
	}
	if a.User == nil {
		a.User = url.UserPassword("guest", "guest")
	}
	m, err := url.Parse(mgmtURL)
	if err != nil || (m.Scheme != "http" && m.Scheme != "https") || m.Host == "" {
		return nil, fmt.Errorf("RABBITMQ_MANAGEMENT_URL %q is not an http(s) URL", redactURL(mgmtURL))
	}
	if m.User == nil {
		m.User = a.User
	}
	m.Path, m.RawPath = strings.TrimRight(m.Path, "/"), ""
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	v := &vhosts{amqp: a, mgmt: m, prefix: "bench-" + hex.EncodeToString(b)}
	user := a.User.Username()
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	for _, s := range []string{vhostRaw, vhostWorker, vhostRadial} {
		name := v.name(s)
		if err := v.call(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(name), map[string]any{}); err != nil {
			v.deleteAll()
			return nil, fmt.Errorf("create vhost %s (management API %s): %w", name, m.Redacted(), err)
		}
		v.created = append(v.created, name)
		if err := v.call(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(name)+"/"+url.PathEscape(user), perms); err != nil {
			v.deleteAll()
			return nil, fmt.Errorf("grant %s on vhost %s: %w", user, name, err)
		}
	}
	return v, nil
}

func (v *vhosts) name(suffix string) string { return v.prefix + "-" + suffix }

func (v *vhosts) names() []string { return append([]string(nil), v.created...) }

// url is the AMQP URL of a vhost of the run.
func (v *vhosts) url(suffix string) string {
	u := *v.amqp
	u.Path = "/" + v.name(suffix)
	u.RawPath = "/" + url.PathEscape(v.name(suffix))
	return u.String()
}

// deleteAll deletes the vhosts created, with everything in them. It uses its
// own deadline: it runs after an interrupt too.
func (v *vhosts) deleteAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range v.created {
		if err := v.call(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(name), nil, http.StatusNotFound); err != nil {
			progress("could not delete vhost %s: %v", name, err)
		}
	}
	v.created = nil
}

// call calls the management API; statuses in ok are accepted besides 2xx.
func (v *vhosts) call(ctx context.Context, method, path string, body any, ok ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := *v.mgmt
	u.User = nil
	req, err := http.NewRequestWithContext(ctx, method, u.String()+path, rd)
	if err != nil {
		return err
	}
	pass, _ := v.mgmt.User.Password()
	req.SetBasicAuth(v.mgmt.User.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	for _, c := range ok {
		if resp.StatusCode == c {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
}

// rabbitVersion asks the management API for the broker's version ("" when
// unknown).
func rabbitVersion(ctx context.Context, mgmtURL string) string {
	m, err := url.Parse(mgmtURL)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := *m
	u.User = nil
	u.Path = strings.TrimRight(u.Path, "/") + "/api/overview"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return ""
	}
	if m.User != nil {
		pass, _ := m.User.Password()
		req.SetBasicAuth(m.User.Username(), pass)
	} else {
		req.SetBasicAuth("guest", "guest")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var o struct {
		Version string `json:"rabbitmq_version"`
	}
	if json.NewDecoder(resp.Body).Decode(&o) != nil {
		return ""
	}
	return o.Version
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}
