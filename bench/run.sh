#!/usr/bin/env bash
# vidgate's HTTP benchmarks, side by side with a bare axum server (the ceiling for this HTTP
# stack) in one run on this machine, printed as one JSON object (and saved to
# bench/results.json). Not a test: these machines are shared, so read the ratios.
#
#   bench/run.sh                 # 10 s per load, 64 connections, 2 wrk threads
#   DURATION=5s CONNS=64 bench/run.sh
#
# Measures: create (durable: the 200 comes after the commit, SQLite with fsync; by a key with
# a prepaid balance, so accounting is on; and the same spread over 16 keys, each with its own
# prepaid balance), status polling, the same on PostgreSQL with one and with two API replicas (a throwaway database on scripts/postgres.sh's server, or PG_URL's),
# dispatch latency (a slot frees → the next upstream create), and RSS idle and with 1,000,000
# requests stored. Installs wrk (Debian) if missing; builds release.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export BENCH_DIR=$ROOT/bench
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
STORED=${STORED:-1000000}
export BENCH_KEY=bench-key-0123456789abcdefghij

if ! command -v wrk >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y -q wrk >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q wrk >/dev/null; }
fi
command -v python3 >/dev/null || { echo "python3 is needed to seed the database" >&2; exit 1; }

# VIDGATE_BIN: benchmark another build (an older commit's, for a before/after in one sitting).
cargo build --release --quiet -p vidgate --bin vidgate --example bare_axum
BIN=${VIDGATE_BIN:-$ROOT/target/release/vidgate}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

wait_ready() { # URL
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "not ready: $1" >&2; exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
load() { # SCRIPT URL -> one JSON line
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$1" "$2" | tail -n 1
}
start_vidgate() { # DATA_DIR PORT ROLE [ENV=VAL...]
  local dir=$1 port=$2 role=$3; shift 3
  # Limits off: one key makes all the load here, far past any sensible per-key rate.
  env VIDGATE_BOOTSTRAP_KEY=$BENCH_KEY VIDGATE_LOG__LEVEL=warn VIDGATE_LIMITS__CREATE_RATE=0 \
    VIDGATE_LIMITS__READ_RATE=0 VIDGATE_LIMITS__MAX_QUEUED_PER_KEY=0 VIDGATE_LIMITS__MAX_QUEUE_LENGTH=0 "$@" \
    "$BIN" serve --data-dir "$dir" --listen "127.0.0.1:$port" --role "$role" 2>>"$WORK/vidgate.log" &
  PIDS+=($!)
  VG_PID=$!
  wait_ready "http://127.0.0.1:$port/readyz"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# --- the ceiling: bare axum --------------------------------------------------------------
P=$(free_port)
"$ROOT/target/release/examples/bare_axum" "127.0.0.1:$P" &
PIDS+=($!); BARE=$!
wait_ready "http://127.0.0.1:$P/"
BARE_JSON=$(load get.lua "http://127.0.0.1:$P/status")
stop "$BARE"

# Accounting on, as vidgate runs: every key gets a prepaid balance, so every create checks it
# and holds credits in its insert. fund STORE_ARGS (the data dir's SQLite, or a URL) funds the
# bootstrap key and 16 more, and prints those 16 for create-keys.lua.
# shellcheck source=bench/fund.sh
source "$BENCH_DIR/fund.sh"
create_one() { # PORT -> request id
  curl -fsS -H "Authorization: Key $BENCH_KEY" -H 'Content-Type: application/json' \
    -d '{"model_name":"Vidu","model_version":"q2","prompt":"status","output_config":{"duration":1}}' \
    "http://127.0.0.1:$1/tencent-vod/v1/aigc-video" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])'
}
# Two wrk runs at once, one per replica (half the connections each), summed into one line.
load_pair() { # SCRIPT URL_A URL_B -> one JSON line
  local a b
  a=$(mktemp); b=$(mktemp)
  wrk -t1 -c"$((CONNS / 2))" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$1" "$2" | tail -n 1 >"$a" &
  local wa=$!
  wrk -t1 -c"$((CONNS / 2))" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$1" "$3" | tail -n 1 >"$b"
  wait "$wa"
  python3 - "$a" "$b" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps({"requests": a["requests"] + b["requests"], "rps": a["rps"] + b["rps"],
                  "p50_ms": max(a["p50_ms"], b["p50_ms"]), "p99_ms": max(a["p99_ms"], b["p99_ms"]),
                  "max_ms": max(a["max_ms"], b["max_ms"]),
                  "errors": {k: a["errors"][k] + b["errors"][k] for k in a["errors"]}}))
PY
  rm -f "$a" "$b"
}

# --- create and status (role api: no workers, so renders do not take the CPU) ------------
P=$(free_port); start_vidgate "$WORK/a" "$P" api
BENCH_KEYS=$(fund --data-dir "$WORK/a")
export BENCH_KEYS
sleep 1
RSS_IDLE=$(rss_mb "$VG_PID")
CREATE_JSON=$(load create.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video)
CREATE16_JSON=$(load create-keys.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video)
ID=$(create_one "$P")
STATUS_JSON=$(load get.lua "http://127.0.0.1:$P/tencent-vod/v1/aigc-video/requests/$ID/status")
stop "$VG_PID"

# --- the same on PostgreSQL: one API replica, then two sharing the database -------------
# PG_URL: a server to make a throwaway database on (default: scripts/postgres.sh's).
PG_JSON=null
if PG_BASE=${PG_URL:-$(./scripts/postgres.sh 2>/dev/null)}; then
  PG_DB=vidgate_bench_$$
  PG_ADMIN=${PG_BASE%/*}/postgres
  psql "$PG_ADMIN" -Atqc "CREATE DATABASE $PG_DB" >/dev/null
  trap 'cleanup; psql "$PG_ADMIN" -Atqc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  export DATABASE_URL=${PG_BASE%/*}/$PG_DB
  "$BIN" migrate --database-url "$DATABASE_URL" >/dev/null
  P=$(free_port); start_vidgate "$WORK/p1" "$P" api
  BENCH_KEYS=$(fund --database-url "$DATABASE_URL")
  PG_CREATE_1=$(load create.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video)
  PG_CREATE16_1=$(load create-keys.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video)
  PG_ID=$(create_one "$P")
  PG_STATUS_1=$(load get.lua "http://127.0.0.1:$P/tencent-vod/v1/aigc-video/requests/$PG_ID/status")
  P2=$(free_port); start_vidgate "$WORK/p2" "$P2" api
  PG_CREATE_2=$(load_pair create.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video http://127.0.0.1:$P2/tencent-vod/v1/aigc-video)
  PG_CREATE16_2=$(load_pair create-keys.lua http://127.0.0.1:$P/tencent-vod/v1/aigc-video http://127.0.0.1:$P2/tencent-vod/v1/aigc-video)
  PG_STATUS_2=$(load_pair get.lua "http://127.0.0.1:$P/tencent-vod/v1/aigc-video/requests/$PG_ID/status" \
    "http://127.0.0.1:$P2/tencent-vod/v1/aigc-video/requests/$PG_ID/status")
  stop "$VG_PID"; stop "${PIDS[-2]}"
  unset DATABASE_URL
  PG_JSON=$(python3 - "$PG_CREATE_1" "$PG_STATUS_1" "$PG_CREATE_2" "$PG_STATUS_2" "$PG_CREATE16_1" "$PG_CREATE16_2" <<'PY'
import json, sys
c1, s1, c2, s2, k1, k2 = (json.loads(a) for a in sys.argv[1:7])
print(json.dumps({"one_replica": {"create": c1, "create_16_keys": k1, "status": s1},
                  "two_replicas": {"create": c2, "create_16_keys": k2, "status": s2}}))
PY
)
else
  echo "bench: no PostgreSQL server (scripts/postgres.sh failed); skipping its figures" >&2
fi

# --- dispatch latency: one slot, quick renders; gap from a finish to the next dispatch ----
P=$(free_port); start_vidgate "$WORK/d" "$P" all VIDGATE_SANDBOX__CONCURRENCY=1 VIDGATE_SANDBOX__QUEUE_DELAY=0s \
  VIDGATE_SANDBOX__PROCESSING_TIME=50ms VIDGATE_SANDBOX__POLL_INTERVAL=20ms VIDGATE_SANDBOX__FPS=1
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null -H "Authorization: Key $BENCH_KEY" -H 'Content-Type: application/json' \
    -d '{"model_name":"Vidu","model_version":"q2","prompt":"dispatch","output_config":{"duration":1,"resolution":"720P","aspect_ratio":"1:1"}}' \
    http://127.0.0.1:$P/tencent-vod/v1/aigc-video
done
for _ in $(seq 1 600); do
  LEFT=$(python3 - "$WORK/d/vidgate.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tasks WHERE state NOT IN ('succeeded','failed','cancelled')").fetchone()[0])
PY
)
  [ "$LEFT" = 0 ] && break; sleep 0.2
done
DISPATCH_JSON=$(python3 - "$WORK/d/vidgate.db" <<'PY'
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT dispatched_at, finished_at FROM tasks WHERE state = 'succeeded' ORDER BY dispatched_at").fetchall()
gaps = sorted(b[0] - a[1] for a, b in zip(rows, rows[1:]))
pick = lambda p: gaps[min(len(gaps) - 1, int(round((len(gaps) - 1) * p)))]
print(json.dumps({"samples": len(gaps), "p50_ms": pick(0.5), "p90_ms": pick(0.9), "max_ms": gaps[-1]}))
PY
)
stop "$VG_PID"

# --- memory with a million requests stored ------------------------------------------------
python3 - "$WORK/a/vidgate.db" "$STORED" <<'PY'
import hashlib, os, sqlite3, sys
db, n = sqlite3.connect(sys.argv[1]), int(sys.argv[2])
key_id = "key_bootstrap_" + hashlib.sha256(os.environ["BENCH_KEY"].encode()).hexdigest()[:16]
req = '{"model_name":"Vidu","model_version":"q2","prompt":"stored","output_config":{"duration":1.0}}'
db.execute(f"""WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n})
  INSERT INTO tasks (id, key_id, pool, state, rank, request, created_at, updated_at, run_after, deadline_at)
  SELECT printf('%08x-0000-7000-9000-%012x', x, x), '{key_id}', 'sandbox', 'queued', x % 7 - 3,
         '{req}', 0, 0, 0, 9000000000000 FROM c""")
db.commit()
PY
P=$(free_port); start_vidgate "$WORK/a" "$P" api
sleep 1
RSS_STORED_IDLE=$(rss_mb "$VG_PID")
wrk -t"$THREADS" -c"$CONNS" -d5s -s "$BENCH_DIR/get.lua" \
  "http://127.0.0.1:$P/tencent-vod/v1/aigc-video/requests/$ID/status" >/dev/null
wrk -t"$THREADS" -c8 -d5s -s "$BENCH_DIR/get.lua" \
  "http://127.0.0.1:$P/tencent-vod/v1/aigc-video/requests?limit=100" >/dev/null
RSS_STORED_LOADED=$(rss_mb "$VG_PID")
stop "$VG_PID"

python3 - "$BARE_JSON" "$CREATE_JSON" "$STATUS_JSON" "$DISPATCH_JSON" "$RSS_IDLE" "$RSS_STORED_IDLE" "$RSS_STORED_LOADED" "$STORED" "$CONNS" "$DURATION" "$PG_JSON" "$CREATE16_JSON" <<'PY' | tee "$BENCH_DIR/results.json"
import json, os, sys
bare, create, status, dispatch = (json.loads(a) for a in sys.argv[1:5])
pg = json.loads(sys.argv[11])
if pg:
    for setup in pg.values():
        for load in setup.values():
            load["ratio_to_bare_axum"] = round(load["rps"] / bare["rps"], 3)
ratio = lambda r: round(r["rps"] / bare["rps"], 3)
print(json.dumps({
    "machine": {"cores": os.cpu_count(), "connections": int(sys.argv[9]), "duration": sys.argv[10]},
    "bare_axum": bare,
    "create": {**create, "ratio_to_bare_axum": ratio(create)},
    "create_16_keys": {**json.loads(sys.argv[12]), "ratio_to_bare_axum": ratio(json.loads(sys.argv[12]))},
    "status": {**status, "ratio_to_bare_axum": ratio(status)},
    "postgres": pg,
    "dispatch_latency": dispatch,
    "rss_mb": {"idle": float(sys.argv[5]), f"idle_with_{sys.argv[8]}_stored": float(sys.argv[6]),
               f"after_load_with_{sys.argv[8]}_stored": float(sys.argv[7])},
}, indent=2))
PY
