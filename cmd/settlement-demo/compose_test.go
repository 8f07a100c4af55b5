package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// TestComposeOverride loads deployments/docker-compose.yml with the demo's
// override and the defaults `make demo` sets (the Docker branch cannot run
// here): RabbitMQ must publish AMQP and management on loopback.
func TestComposeOverride(t *testing.T) {
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "deployments", "docker-compose.yml"), filepath.Join(root, "cmd", "settlement-demo", "docker-compose.amqp.yml")},
		cli.WithWorkingDirectory(filepath.Join(root, "deployments")),
		cli.WithEnv([]string{"RABBITMQ_USER=settlement", "RABBITMQ_PASSWORD=settlement-demo", "POSTGRES_PASSWORD=unused-by-demo", "RADIAL_API_KEY=unused-by-demo"}),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	svc, ok := p.Services["rabbitmq"]
	if !ok {
		t.Fatal("no rabbitmq service")
	}
	published := map[string]string{}
	for _, pt := range svc.Ports {
		published[pt.Published] = pt.HostIP
	}
	for _, port := range []string{"5672", "15672"} {
		if ip, ok := published[port]; !ok || ip != "127.0.0.1" {
			t.Errorf("rabbitmq does not publish %s on 127.0.0.1 (ports %+v)", port, svc.Ports)
		}
	}
	if _, ok := p.Services["rabbitmq-init"]; !ok {
		t.Error("no rabbitmq-init service (make demo runs it to create the radial vhost)")
	}
}
