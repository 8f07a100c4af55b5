// Package deployments holds the container deployment of settlement-worker:
// docker-compose.yml (RabbitMQ, PostgreSQL, the provider sandbox and two
// worker replicas), the Dockerfile of both images, and healthcheck, the
// probe those distroless images run. Its tests validate the compose file
// and the Dockerfile without a Docker engine.
package deployments
