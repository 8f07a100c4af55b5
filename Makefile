# settlement-worker — `make help` lists the targets.
#
# Infrastructure for tests and demos is local and throwaway:
#   scripts/rabbitmq.sh  RabbitMQ on 127.0.0.1:5672 (management :15672), scratch .tmp/rabbitmq
#   scripts/postgres.sh  PostgreSQL on 127.0.0.1:55432, scratch .tmp/postgres
# Both `start` commands are idempotent and print `export NAME=value` lines
# (nothing when AMQP_URL / STORE_TEST_POSTGRES_DSN already point at a
# reachable server), which the recipes below eval so that the env reaches
# go test / go run.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# Extra flags for go test in `make test` / `make test-unit`, e.g.
#   make test GO_TEST_FLAGS='-run TestSettle -v'
GO_TEST_FLAGS ?=
# Tests that disrupt the shared broker (testenv.RestartBroker) run alone in a
# second pass of `make test`, selected by this -run pattern.
EXCLUSIVE_TEST_RUN ?= RestartBroker|BrokerRestart
# Packages for `make test` / `make test-unit` / `make lint`.
PKGS ?= ./...
BIN_DIR := bin

# The second pass of `make test` runs on its own throwaway broker, so that
# restarting it disturbs no one else's tests.
exclusive_broker = AMQP_URL= RABBITMQ_SCRATCH=$(CURDIR)/.tmp/rabbitmq-exclusive \
	RABBITMQ_AMQP_PORT=5674 RABBITMQ_MANAGEMENT_PORT=15674 RABBITMQ_NODE=settlement-exclusive@localhost \
	scripts/rabbitmq.sh

# Shell snippets: start the infrastructure (if needed) and export its env.
with_broker   = broker_env=$$(scripts/rabbitmq.sh start); eval "$$broker_env";
with_postgres = pg_env=$$(scripts/postgres.sh start); eval "$$pg_env";

.PHONY: help build broker-up broker-down broker-status postgres-up postgres-down \
	test test-unit demo compose-test bench chaos chaos-short sandbox fmt lint clean

help: ## Show this help
	@echo "Usage: make TARGET [GO_TEST_FLAGS=...] [ARGS=...]"; echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build all packages, and the commands under cmd/ into bin/
	$(GO) build ./...
	mkdir -p $(BIN_DIR)
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

broker-up: ## Start the local RabbitMQ (idempotent) and print its env
	@scripts/rabbitmq.sh start

broker-down: ## Stop the local RabbitMQ
	@scripts/rabbitmq.sh stop

broker-status: ## Tell whether the local RabbitMQ runs, and its env
	@scripts/rabbitmq.sh status

postgres-up: ## Start the local test PostgreSQL (idempotent) and print its env
	@scripts/postgres.sh start

postgres-down: ## Stop the local test PostgreSQL
	@scripts/postgres.sh stop

test: ## Everything CI runs: broker + postgres up, go vet, go test -race (GO_TEST_FLAGS=..., PKGS=...)
	@$(with_broker) $(with_postgres) \
	echo "== broker: $$AMQP_URL" | sed -E 's#//([^:/]*):[^@]*@#//\1:***@#'; \
	echo "== postgres: $$STORE_TEST_POSTGRES_DSN" | sed -E 's#//([^:/]*):[^@]*@#//\1:***@#'; \
	echo "== go vet $(PKGS)"; \
	$(GO) vet $(PKGS); \
	rc=0; \
	echo "== go test -race $(PKGS)"; \
	$(GO) test -race -count=1 -timeout 30m $(GO_TEST_FLAGS) $(PKGS) || rc=$$?; \
	echo "== go test -race -p 1 -run '$(EXCLUSIVE_TEST_RUN)' $(PKGS) (tests that disrupt the broker, alone, on a private broker)"; \
	if excl_env=$$($(exclusive_broker) start); then eval "$$excl_env"; \
	else echo "(no private broker: using the shared one)"; fi; \
	TESTENV_EXCLUSIVE_BROKER=1 $(GO) test -race -count=1 -p 1 -timeout 15m -run '$(EXCLUSIVE_TEST_RUN)' $(PKGS) \
		| { grep -v -e 'no tests to run' -e 'no test files' || true; } || rc=$$?; \
	$(exclusive_broker) stop 2>/dev/null || true; \
	echo "== go test -run TestChaosShort ./cmd/settlement-chaos (the short chaos suite, without -race: its own broker node)"; \
	TESTENV_EXCLUSIVE_BROKER=1 $(GO) test -count=1 -timeout 20m -run TestChaosShort ./cmd/settlement-chaos || rc=$$?; \
	exit $$rc

test-unit: ## Fast tests, no infrastructure needed: go test -race -short
	$(GO) test -race -short $(GO_TEST_FLAGS) $(PKGS)

# demo compiles the three commands in the background while the broker
# starts (on a cold build cache that is most of the time), then go run finds
# them built; compile errors show up in go run / the demo's own build.
# Without AMQP_URL it installs Debian's rabbitmq-server when it is missing
# (scripts/install-deps.sh: as root or with passwordless sudo, else it prints
# the command to run and stops) and starts it on loopback.
demo: ## Run the end-to-end demo (go run ./cmd/settlement-demo); installs and starts a local RabbitMQ if needed
	@$(GO) build -o $(BIN_DIR)/ ./cmd/settlement-demo ./cmd/settlement-worker ./cmd/provider-sandbox >/dev/null 2>&1 & prebuild=$$!; \
	if [[ -z $${AMQP_URL:-} ]]; then scripts/install-deps.sh rabbitmq curl || { kill $$prebuild 2>/dev/null; exit 1; }; fi; \
	$(with_broker) \
	wait $$prebuild || true; \
	$(GO) run ./cmd/settlement-demo $(ARGS)

# compose-test builds every image locally (no registry: a debootstrapped
# Debian base, RabbitMQ and PostgreSQL from Debian's packages, the worker
# from host-built static binaries), runs deployments/docker-compose.yml with
# docker-compose on a scratch dockerd when none is reachable, and checks no
# settlement is lost across a worker restart. See scripts/compose-test.sh.
compose-test: ## Run the docker-compose deployment for real: build images, up, settle across a worker restart, down -v
	@scripts/compose-test.sh

bench: ## Run the benchmark (go run ./cmd/settlement-bench) against the local broker; ARGS='-backlog 100000' adds the backlog target
	@$(with_broker) $(GO) run ./cmd/settlement-bench $(ARGS)

# The chaos suite restarts its own RabbitMQ node (chaos@localhost on
# 5676/15676, scratch .tmp/rabbitmq-chaos), never the shared broker; the
# PostgreSQL scenario creates (and drops) a fresh database on the server of
# STORE_TEST_POSTGRES_DSN.
CHAOS_SHORT_N ?= 200
chaos: ## Chaos suite: N settlements per provider (ARGS='-n 2000'), worker SIGKILLs, broker restarts, provider faults, PostgreSQL lock sessions ended; SQLite and 2 PostgreSQL replicas
	@[[ -n $${STORE_TEST_POSTGRES_DSN:-} ]] || { $(with_postgres) }; \
	$(GO) run ./cmd/settlement-chaos $(ARGS)

chaos-short: ## Short chaos suite (CHAOS_SHORT_N=200 per provider, both stores); what `make test` can run
	@[[ -n $${STORE_TEST_POSTGRES_DSN:-} ]] || { $(with_postgres) }; \
	$(GO) run ./cmd/settlement-chaos -n $(CHAOS_SHORT_N) -timeout 8m $(ARGS)

sandbox: ## Run the provider sandbox (go run ./cmd/provider-sandbox) on the local broker
	@$(with_broker) \
	export SANDBOX_RADIAL_AMQP_URL="$${SANDBOX_RADIAL_AMQP_URL:-$${RADIAL_AMQP_URL:-}}"; \
	[[ -n $$SANDBOX_RADIAL_AMQP_URL ]] || unset SANDBOX_RADIAL_AMQP_URL; \
	$(GO) run ./cmd/provider-sandbox $(ARGS)

fmt: ## Format the Go code (gofmt -w)
	$(GO) fmt ./...

lint: ## gofmt -l (fails on unformatted files) and go vet
	@unformatted=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' $(PKGS))); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

clean: ## Remove build outputs (bin/, coverage.out); brokers and the compose-test image cache (.tmp/compose) stay
	rm -rf $(BIN_DIR) coverage.out
