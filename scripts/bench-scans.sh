#!/usr/bin/env bash
# Scans per second through HTTP with durable writes, against a release `healthcode serve`,
# driven by wrk (apt-get install -y wrk). In the same run it measures the verify-only endpoint
# (POST /api/v1/codes/verify: token verification without the store) for the ratio, counts
# the visits committed to the database afterwards, and reports the server's peak RSS.
#
#   scripts/bench-scans.sh [--seconds 20] [--connections 64] [--threads 1] [--people 50 (at most 12000)] [--postgres URL]
#                          [--bin PATH (another build, to compare two in the same conditions)]
#
# --postgres ADMIN_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) runs against a fresh
# PostgreSQL database instead of SQLite. wrk shares the machine's cores with the server: on a
# 2-core machine that caps both numbers, so compare them as a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=20 connections=64 threads=1 people=50 pg_admin="" bin=target/release/healthcode
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --people) people="$2"; shift 2 ;;
    --postgres) pg_admin="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -x "$bin" ] || cargo build --release -p healthcode

dir=$(mktemp -d /tmp/healthcode-bench-scans.XXXXXX)
port=$((20000 + RANDOM % 20000))
admin="hca_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
key() { head -c 32 /dev/urandom | base64; }
"$bin" keys generate --region 420100 --node bench --dir "$dir/keys" >/dev/null
if [ -n "$pg_admin" ]; then
  db="hc_bench_$$"
  psql -q "$pg_admin" -c "CREATE DATABASE $db" >/dev/null
  database_url="${pg_admin%/*}/$db"
else
  database_url="sqlite://$dir/db.sqlite"
fi
HEALTHCODE_KEYS_DIR="$dir/keys" HEALTHCODE_DATABASE_URL="$database_url" HEALTHCODE_LISTEN="127.0.0.1:$port" \
  HEALTHCODE_OTP_SENDER=log HEALTHCODE_DATA_KEYS="k1:$(key)" HEALTHCODE_INDEX_KEY="$(key)" \
  HEALTHCODE_BOOTSTRAP_ADMIN_TOKEN="$admin" HEALTHCODE_CODE_TTL_SECONDS=3600 HEALTHCODE_LOG=warn,healthcode::otp=info \
  "$bin" serve >"$dir/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ -n "$pg_admin" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

# Setup through the API: a venue, a checkpoint device bound to it, and registered people
# whose phone codes (valid for an hour) the load generator cycles through.
python3 - "$port" "$admin" "$dir" "$people" <<'PY'
import json, re, sys, time, urllib.request
port, admin, d, people = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def call(method, path, token=None, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token: req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
def staff(role, extra):
    return call("POST", "/api/v1/staff", admin, {"role": role, "name": role, **extra})["token"]
venue_admin = staff("venue_admin", {})
venue = call("POST", "/api/v1/venues", venue_admin,
             {"name": "bench", "address": "bench", "region": "420102", "category": "restaurant"})["venue_id"]
device = staff("checkpoint", {"venue_id": venue})
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
tokens = []
for n in range(people):
    phone = f"139{n:08d}"
    call("POST", "/api/v1/auth/otp", None, {"phone": phone})
    code = None
    for _ in range(50):
        m = re.findall(rf"otp phone={phone} code=(\d+)", open(f"{d}/server.log").read())
        if m: code = m[-1]; break
        time.sleep(0.05)
    session = call("POST", "/api/v1/auth/login", None, {"phone": phone, "code": code})["token"]
    first17 = f"4201021990{n // 1000 % 12 + 1:02d}15{n % 1000:03d}"  # unique for n < 12000
    check = "10X98765432"[sum(int(c) * w for c, w in zip(first17, W)) % 11]
    call("POST", "/api/v1/persons", session,
         {"name": "张小三", "id_number": first17 + check, "phone": phone, "household_region": "420102"})
    tokens.append(call("GET", "/api/v1/me/code", session)["token"])
open(f"{d}/tokens.txt", "w").write("\n".join(tokens) + "\n")
open(f"{d}/venue", "w").write(venue)
open(f"{d}/device", "w").write(device)
PY
venue=$(cat "$dir/venue") device=$(cat "$dir/device")
url="http://127.0.0.1:$port"
run() { # MODE SECONDS
  /usr/bin/time -f "%U %S" -o "$dir/wrk-$1.time" wrk -t"$threads" -c"$connections" -d"$2"s -s scripts/bench-scans.lua "$url" -- "$1" "$dir/tokens.txt" "$venue" "$device" "$1$RANDOM" |
    grep '^RESULT' | sed 's/^RESULT //'
}
value() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

backend=sqlite; [ -n "$pg_admin" ] && backend=postgres
echo "healthcode scans benchmark: $(nproc) cores, backend $backend, wrk -t$threads -c$connections, ${seconds}s each, $people people"
run verify 3 >/dev/null # warm-up
# The server's CPU time per request (user + system, from /proc) is the figure that a busy
# machine disturbs least: throughput falls when others take the cores, the work per request
# does not.
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
per_request() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) * 1e6 / $(getconf CLK_TCK) / max(int(sys.argv[3]), 1):.0f}')" "$@"; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(ticks); verify=$(run verify "$seconds"); t1=$(ticks)
scans=$(run scan "$seconds"); t2=$(ticks)
verify_cpu=$(per_request "$t0" "$t1" "$(value requests "$verify")")
scans_cpu=$(per_request "$t1" "$t2" "$(value requests "$scans")")
# wrk's own CPU per request: it shares the cores, so what it spends the server cannot.
wrk_cpu() { python3 -c "import sys; u, s = open(sys.argv[1]).read().split()[:2]; print(f'{(float(u) + float(s)) * 1e6 / max(int(sys.argv[2]), 1):.0f}')" "$@"; }
verify_wrk=$(wrk_cpu "$dir/wrk-verify.time" "$(value requests "$verify")")
scans_wrk=$(wrk_cpu "$dir/wrk-scan.time" "$(value requests "$scans")")
rss_kib=$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' "/proc/$server/status")
if [ -n "$pg_admin" ]; then
  visits=$(psql -tA "${pg_admin%/*}/$db" -c "SELECT count(*) FROM visits")
else
  visits=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM visits').fetchone()[0])" "$dir/db.sqlite")
fi
echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %10s %10s %10s %10s %16s %14s\n' endpoint "req/s" "p50 ms" "p99 ms" "non-2xx" "server CPU µs/req" "wrk CPU µs/req"
printf '%-28s %10s %10s %10s %10s %16s %14s\n' "POST /api/v1/codes/verify" "$(value rps "$verify")" "$(value p50_ms "$verify")" "$(value p99_ms "$verify")" "$(value errors_status "$verify")" "$verify_cpu" "$verify_wrk"
printf '%-28s %10s %10s %10s %10s %16s %14s\n' "POST /api/v1/scans" "$(value rps "$scans")" "$(value p50_ms "$scans")" "$(value p99_ms "$scans")" "$(value errors_status "$scans")" "$scans_cpu" "$scans_wrk"
python3 - "$(value rps "$scans")" "$(value rps "$verify")" "$(value requests "$scans")" "$(value errors_status "$scans")" "$visits" "$rss_kib" <<'PY'
import sys
scans, verify, sent, bad, visits, rss = (float(x) for x in sys.argv[1:])
print(f"scans / verify-only           {scans / verify:.2f}   (goal >= 0.70)")
print(f"scans/s goal 20000            {'met' if scans >= 20000 else 'missed'}")
print(f"visits committed              {int(visits)} of {int(sent - bad)} answered 200")
print(f"server peak RSS               {rss / 1024:.0f} MiB")
PY
