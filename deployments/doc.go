// Package deployments holds the container deployment of settlement-worker:
// docker-compose.yml (RabbitMQ, PostgreSQL, the provider sandbox and two
// worker replicas; secrets as files), the Dockerfile of both images,
// healthcheck (the probe those distroless images run), secretenv (their
// entrypoint: NAME_FILE secrets into the environment), and for machines
// without an image registry debian/ (RabbitMQ and PostgreSQL images from
// Debian's packages) with the overrides docker-compose.debian.yml and
// docker-compose.test.yml; prometheus/alerts.yml (alerting rules,
// unit-tested in prometheus/alerts_test.yml) and grafana/settlement-worker.json
// (a dashboard). Its tests validate the compose files and the Dockerfile
// without a Docker engine, run promtool on the rules, and check that the
// rules and the dashboard read only metrics the worker exports; make
// compose-test (scripts/compose-test.sh) builds and runs the deployment for
// real.
package deployments
