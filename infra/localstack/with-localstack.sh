#!/usr/bin/env bash
# Run a command with LocalStack on this host (no Docker): start it, export AWS_ENDPOINT_URL and
# DRIPR_TEST_AWS_ENDPOINT for the command, stop LocalStack afterwards, exit with the command's
# status. Used by `make demo-localstack` and `make test-localstack`.
set -euo pipefail
PORT=${LOCALSTACK_PORT:-4566}
ENDPOINT=http://127.0.0.1:$PORT
LOG=${LOCALSTACK_LOG:-.dripr/localstack.log}
mkdir -p .dripr
"$(dirname "$0")/run-on-host.sh" > "$LOG" 2>&1 &
LOCALSTACK=$!
trap 'kill $LOCALSTACK 2>/dev/null || true; wait $LOCALSTACK 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do  # the first run installs LocalStack into .dripr/localstack
  curl -sf "$ENDPOINT/_localstack/health" >/dev/null && break
  kill -0 $LOCALSTACK 2>/dev/null || { echo "LocalStack did not start; see $LOG" >&2; exit 1; }
  sleep 1
done
export AWS_ENDPOINT_URL=$ENDPOINT DRIPR_TEST_AWS_ENDPOINT=$ENDPOINT
"$@"
