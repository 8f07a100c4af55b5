package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/internal/testenv"
)

// pki is a throwaway CA with a server and a client certificate, as PEM files.
type pki struct {
	dir                           string
	caFile, clientCert, clientKey string
	serverTLS                     tls.Certificate
	caPool                        *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, name string) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, "localhost")
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, "settlement-worker")
	p := pki{dir: dir, caFile: write("ca.pem", "CERTIFICATE", caDER),
		clientCert: write("client.pem", "CERTIFICATE", cliDER), clientKey: write("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey))}
	p.serverTLS, err = tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER(srvKey)}))
	if err != nil {
		t.Fatal(err)
	}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	return p
}

// tlsFront terminates TLS (requiring a client certificate signed by the CA)
// in front of the test broker's plain AMQP port, like a broker configured
// with ssl_options.verify = verify_peer, fail_if_no_peer_cert = true.
func tlsFront(t *testing.T, p pki, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.serverTLS},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.caPool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String()
}

// amqps:// connections use AMQP_TLS_*: the CA verifies the broker, and the
// client certificate is presented to a broker that requires one.
func TestAMQPSWithCAAndClientCertificate(t *testing.T) {
	p := newPKI(t)
	u, err := url.Parse(testenv.AMQPURL(t))
	if err != nil {
		t.Fatal(err)
	}
	front := tlsFront(t, p, u.Host)
	_, port, _ := net.SplitHostPort(front)
	u.Scheme, u.Host = "amqps", "localhost:"+port
	t.Cleanup(func() { broker.UseTLS(nil) })

	dial := func(files broker.TLSFiles) error {
		c, err := files.Load()
		if err != nil {
			t.Fatal(err)
		}
		broker.UseTLS(c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := broker.Dial(ctx, u.String(), zerolog.Nop())
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(broker.TLSFiles{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}); err != nil {
		t.Fatalf("amqps with the CA and a client certificate: %v", err)
	}
	if err := dial(broker.TLSFiles{CAFile: p.caFile}); err == nil {
		t.Error("amqps without the client certificate connected to a broker that requires one")
	}
	if err := dial(broker.TLSFiles{CertFile: p.clientCert, KeyFile: p.clientKey}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("amqps without our CA = %v, want a certificate verification failure", err)
	}
}

func TestTLSFilesErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	cases := []struct {
		files broker.TLSFiles
		want  string
	}{
		{broker.TLSFiles{}, ""},
		{broker.TLSFiles{CAFile: filepath.Join(dir, "missing.pem")}, "missing.pem"},
		{broker.TLSFiles{CAFile: notPEM}, "holds no PEM certificate"},
		{broker.TLSFiles{CertFile: notPEM}, "both"},
	}
	for _, tc := range cases {
		c, err := tc.files.Load()
		switch {
		case tc.want == "" && (err != nil || c != nil):
			t.Errorf("%+v: %v, %v; want nil, nil", tc.files, c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.files, err, tc.want)
		}
	}
}
