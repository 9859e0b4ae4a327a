#!/usr/bin/env bash
# Start LocalStack (SNS, SQS, SES) on this host without Docker, the way ../../shared/recipes
# checked it: localstack-core 2026.3.0 needs Python 3.13; a certificate of our own; hypercorn
# so that it listens on 127.0.0.1 only. Foreground; Ctrl-C stops it. `make localstack`.
set -euo pipefail

PORT=${LOCALSTACK_PORT:-4566}
ROOT=${LOCALSTACK_ROOT:-$(pwd)/.dripr/localstack}
# A pyenv shim named python3.13 may exist and still fail ("version not selected"): try it first.
if [ -z "${PYTHON313:-}" ]; then
  for candidate in "$(command -v python3.13 2>/dev/null)" /root/.pyenv/versions/3.13*/bin/python3.13; do
    if [ -n "$candidate" ] && "$candidate" -c '' 2>/dev/null; then PYTHON313=$candidate; break; fi
  done
fi
PYTHON313=${PYTHON313:-}
[ -n "$PYTHON313" ] || { echo "LocalStack on the host needs Python 3.13 (set PYTHON313)" >&2; exit 1; }

mkdir -p "$ROOT"/fs "$ROOT"/tmp "$ROOT"/cache
if [ ! -x "$ROOT/venv/bin/python" ]; then
  "$PYTHON313" -m venv "$ROOT/venv"
  "$ROOT/venv/bin/pip" install --quiet 'localstack-core[runtime]==2026.3.0' 'cbor2<6' service_identity
fi
if [ ! -f "$ROOT/server.test.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
    -keyout "$ROOT/key.pem" -out "$ROOT/cert.pem" 2>/dev/null
  cat "$ROOT/key.pem" "$ROOT/cert.pem" > "$ROOT/server.test.pem"
fi

export SERVICES=sns,sqs,ses GATEWAY_LISTEN=127.0.0.1:$PORT LOCALSTACK_HOST=127.0.0.1:$PORT \
  GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 SQS_ENDPOINT_STRATEGY=path DISABLE_EVENTS=1 \
  SKIP_SSL_CERT_DOWNLOAD=1 EAGER_SERVICE_LOADING=1 PERSISTENCE=0 \
  CUSTOM_SSL_CERT_PATH="$ROOT/server.test.pem" FILESYSTEM_ROOT="$ROOT/fs" \
  TMPDIR="$ROOT/tmp" XDG_CACHE_HOME="$ROOT/cache"
echo "LocalStack on http://127.0.0.1:$PORT (ready when /_localstack/health answers)"
exec "$ROOT/venv/bin/python" -m localstack.runtime.main
