#!/bin/sh
# Entrypoint of the Debian RabbitMQ image (deployments/debian/Dockerfile):
# writes the default user from RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS
# (or RABBITMQ_DEFAULT_PASS_FILE) into conf.d, as rabbitmq:3.13 takes them,
# then runs the command (rabbitmq-server) in its place.
set -eu
if [ -n "${RABBITMQ_DEFAULT_PASS_FILE:-}" ]; then
  RABBITMQ_DEFAULT_PASS=$(cat "$RABBITMQ_DEFAULT_PASS_FILE")
fi
conf=/etc/rabbitmq/conf.d/10-default-user.conf
if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then
  (umask 077; printf 'default_user = %s\ndefault_pass = %s\n' \
    "${RABBITMQ_DEFAULT_USER:-guest}" "$RABBITMQ_DEFAULT_PASS" >"$conf")
fi
unset RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_PASS_FILE
exec "$@"
