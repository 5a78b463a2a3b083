#!/usr/bin/env bash
# Runs every test of healthcode: formatting, lints, unit tests, the store conformance suite on
# SQLite and on PostgreSQL, the token tests (with zbarimg and the EU DCC and SMART Health Card
# conformance suites from ../shared/conformance), and the HTTP and command-line tests.
#
# It starts what the tests need: PostgreSQL (installed but stopped → started; missing →
# installed from Debian's packages when run as root) and cargo-nextest if it is missing.
# Set HEALTHCODE_TEST_PG_URL to use another PostgreSQL server (a user allowed to CREATE DATABASE).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

pg_url="${HEALTHCODE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export HEALTHCODE_TEST_PG_URL="$pg_url"

pg_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$pg_url" >/dev/null 2>&1
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

ensure_postgres() {
  if pg_ready; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing PostgreSQL from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      # Local test cluster: trust authentication over TCP on 127.0.0.1.
      for hba in /etc/postgresql/*/main/pg_hba.conf; do
        sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
      done
    else
      echo "PostgreSQL is not installed and cannot be installed here; install it or set HEALTHCODE_TEST_PG_URL" >&2
      exit 1
    fi
  fi
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_ready && return 0; sleep 1; done
  echo "PostgreSQL did not become ready at $pg_url" >&2
  exit 1
}

# apt packages the tests use: zbarimg (zbar-tools) reads our QR codes as an independent decoder.
ensure_apt_tools() {
  command -v zbarimg >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing zbar-tools"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zbar-tools >/dev/null
  else
    echo "zbarimg is missing: install zbar-tools (apt install zbar-tools)" >&2
    exit 1
  fi
}

ensure_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then return 0; fi
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
}

ensure_postgres
ensure_apt_tools
ensure_nextest

log "format"
cargo fmt --all -- --check

log "lints"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "tests"
cargo nextest run --workspace --no-fail-fast
