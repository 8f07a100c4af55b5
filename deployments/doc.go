// Package deployments holds the container deployment of settlement-worker:
// docker-compose.yml (RabbitMQ, PostgreSQL, the provider sandbox and two
// worker replicas), the Dockerfile of both images, and healthcheck, the
// probe those distroless images run; prometheus/alerts.yml (alerting rules,
// unit-tested in prometheus/alerts_test.yml) and grafana/settlement-worker.json
// (a dashboard). Its tests validate the compose file and the Dockerfile
// without a Docker engine, run promtool on the rules, and check that the
// rules and the dashboard read only metrics the worker exports.
package deployments
