#!/usr/bin/env bash
# Creates on PostgreSQL against SQLite, in one sitting, on a durable PostgreSQL cluster this
# script owns (fsync and synchronous_commit on, as a production server runs; with
# pg_stat_statements loaded, which the machine's shared server does not have). Rounds
# alternate, so the machine's swings hit every setup alike:
#   sqlite-16     one SQLite server, 16 keys with prepaid budgets (BENCH_KEYS)
#   pg1-16        one PostgreSQL replica, the same 16-key load
#   pg2-16        two PostgreSQL replicas, the load split between them
#   pg1-1         one PostgreSQL replica, one key with a prepaid budget
#   pg1-16-half   (HALF=1) one replica, the 16-key load at half the connections: one of pg2-16's halves
#   pg2-16-split  (SPLIT=1) two replicas, each with 8 of the keys
# Each round prints req/s, p99, PostgreSQL commits per create (pg_stat_database.xact_commit),
# and CPU per create in vidgate and in the PostgreSQL backends (µs, from /proc), and from the
# replicas' /metrics (summed over them) the committers' mean batch: its creates (`batch`), its
# time (`batch_ms`), and a one-statement batch's phases (`connection_us`: the pool's hand-over
# and check of the connection; `read_us`; `statement_us`). At the end:
# the statements per create from pg_stat_statements over every PostgreSQL round (execution and
# planning time), then each PostgreSQL setup's own: executor time per create of its top
# statements, their sum, and the backends' CPU beside it (the rest is outside the executor:
# parsing, the protocol, commits). Not a test.
#
#   bench/pg-creates.sh                  # ROUNDS=3 DURATION=10s CONNS=64
#   VIDGATE_BIN=/tmp/old/vidgate bench/pg-creates.sh    # another build
#   SETUPS="pg1-16 pg2-16" bench/pg-creates.sh          # only these (sqlite-16 always runs)
#   PG_SQL="DROP INDEX tasks_slots" bench/pg-creates.sh # try a schema change, no rebuild
#   PERF=/tmp/perf bench/pg-creates.sh                  # perf record -a of each load there
#   PG_OPTS="-c log_lock_waits=on" bench/pg-creates.sh  # more server settings; the log is
#       /tmp/vidgate-bench-pg/pg.log. A preload library goes beside pg_stat_statements:
#       PG_OPTS="-c shared_preload_libraries=pg_stat_statements,auto_explain ..."
#   ACTIVITY=1 bench/pg-creates.sh                      # where each replica's batches spend
#       their time in PostgreSQL: pg_stat_activity sampled about every 20 ms during each load
#       (DURATION in whole seconds); averaged over the load's replicas, the share of samples
#       with a statement of vidgate's running: on CPU (or ready to run), in WAL I/O (wait type
#       IO, a WAL event; other I/O counts as other), waiting for a row (another transaction or
#       a tuple lock), for another heavyweight lock (e.g. relation extension, the NOTIFY lock),
#       for an LWLock (WAL LWLocks included), or other. The
#       rest of a replica's time its batches are in vidgate or on the wire. (The sampler runs
#       in the postgres database, outside the commits and CPU counted.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export BENCH_DIR=$ROOT/bench BENCH_KEY=bench-key-0123456789abcdefghij
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
PORT=${PG_PORT:-55433}
CLUSTER=/tmp/vidgate-bench-pg
command -v wrk >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get install -y -q wrk >/dev/null; }
[ -n "${VIDGATE_BIN:-}" ] || cargo build --release --quiet -p vidgate --bin vidgate
BIN=${VIDGATE_BIN:-$ROOT/target/release/vidgate}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the cluster: durable, pg_stat_statements on ------------------------------------------
as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER/data" -m fast stop >/dev/null 2>&1 || true
rm -rf "$CLUSTER"; mkdir -p "$CLUSTER"; chown postgres "$CLUSTER"
as_postgres "$PGBIN/initdb" -D "$CLUSTER/data" -A trust -U postgres >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$CLUSTER/data" -l "$CLUSTER/pg.log" -w start -o "-p $PORT -k $CLUSTER \
  -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
  -c max_connections=300 -c shared_buffers=512MB -c shared_preload_libraries=pg_stat_statements \
  -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on ${PG_OPTS:-}" >/dev/null
PG=postgres://postgres@127.0.0.1:$PORT
psql "$PG/postgres" -Atqc "CREATE DATABASE vidgate" >/dev/null
psql "$PG/vidgate" -Atqc "CREATE EXTENSION pg_stat_statements" >/dev/null
DB=$PG/vidgate
"$BIN" migrate --database-url "$DB" >/dev/null
[ -z "${PG_SQL:-}" ] || psql "$DB" -v ON_ERROR_STOP=1 -Atqc "$PG_SQL" >/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; exit 1; }
start() { # PORT DATA_DIR [ENV=VAL...] -> pid in $STARTED
  local p=$1 dir=$2; shift 2
  mkdir -p "$dir"
  env VIDGATE_BOOTSTRAP_KEY=$BENCH_KEY VIDGATE_LOG__LEVEL=warn VIDGATE_LIMITS__CREATE_RATE=0 \
    VIDGATE_LIMITS__READ_RATE=0 VIDGATE_LIMITS__MAX_QUEUED_PER_KEY=0 VIDGATE_LIMITS__MAX_QUEUE_LENGTH=0 "$@" \
    "$BIN" serve --data-dir "$dir" --listen "127.0.0.1:$p" --role api 2>>"$WORK/vidgate.log" &
  STARTED=$!
  PIDS+=("$STARTED")
  ready "http://127.0.0.1:$p/readyz"
}
# shellcheck source=bench/fund.sh
source "$BENCH_DIR/fund.sh"
cpu() { # PIDS... -> total user+system ticks
  local t=0 p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
pg_pids() { pgrep -f "postgres: .*vidgate" || true; }
# The backends stay for the whole sitting (pools keep their connections), so their CPU is
# read around each load; the cluster's own processes are left out.
pg_cpu() { local t=0 p; for p in $(pg_pids); do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
commits() { psql "$PG/postgres" -Atqc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'vidgate'"; }
activity() { # FILE: pg_stat_activity every 20 ms for the load's duration, one row per busy backend
  local i
  for i in $(seq 1 $(( ${DURATION%s} * 50 ))); do
    echo "SELECT $i, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '') FROM pg_stat_activity
          WHERE datname = 'vidgate' AND backend_type = 'client backend' AND state = 'active'
            AND pid <> pg_backend_pid() AND query NOT LIKE 'LISTEN%';
          SELECT pg_sleep(0.02);"
  done | psql "$PG/postgres" -Atq -F'|' >"$1" 2>/dev/null || true
}
statements() { # -> one JSON object: queryid -> [calls, exec ms, query, WAL bytes, buffers touched]
  psql "$PG/vidgate" -Atqc "SELECT coalesce(json_object_agg(queryid, json_build_array(calls,
    total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90), wal_bytes,
    shared_blks_hit + shared_blks_read)), '{}') FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'vidgate')"
}
batches() { # FILE URL... : the replicas' committer series from /metrics, summed in the report
  local u
  for u in "${@:2}"; do
    [ -z "$u" ] || curl -fsS --max-time 120 "${u%"$ROUTE"}/metrics" || echo "warning: no /metrics from $u" >&2
  done | grep '^vidgate_store_create_batch' >"$1" || true
}
wanted() { [ -z "${SETUPS:-}" ] || [[ " $SETUPS " == *" $1 "* ]]; }
measure() { # LABEL SCRIPT URL_A [URL_B] -- VIDGATE_PIDS...
  local label=$1 script=$2 a=$3 b=${4:-}; shift 4; shift
  local c0 v0 p0 s0 out
  wanted "$label" || [ "$label" = sqlite-16 ] || return 0
  # The /metrics scrapes stay outside the counted window (each reads the whole ledger).
  batches "$WORK/batches0" "$a" "$b"
  c0=$(commits); v0=$(cpu "$@"); p0=$(pg_cpu); s0=$(statements)
  local perf="" act=""
  if [ -n "${ACTIVITY:-}" ] && [ "$label" != sqlite-16 ]; then
    activity "$WORK/activity.txt" &
    act=$!
  fi
  if [ -n "${PERF:-}" ]; then
    mkdir -p "$PERF"
    perf record -a ${PERF_OPTS:--g -F 999} -o "$PERF/$label.$(date +%s).data" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
    perf=$!
  fi
  if [ -n "$b" ]; then
    local fa fb; fa=$(mktemp); fb=$(mktemp)
    BENCH_KEYS=${BENCH_KEYS_A:-${BENCH_KEYS:-}} wrk -t1 -c"$((CONNS / 2))" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$script" "$a" | tail -n 1 >"$fa" &
    local w=$!
    BENCH_KEYS=${BENCH_KEYS_B:-${BENCH_KEYS:-}} wrk -t1 -c"$((CONNS / 2))" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$script" "$b" | tail -n 1 >"$fb"
    wait "$w"
    out=$(python3 - "$fa" "$fb" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps({"requests": a["requests"] + b["requests"], "rps": a["rps"] + b["rps"],
                  "p99_ms": max(a["p99_ms"], b["p99_ms"]), "non_2xx": a["errors"]["status"] + b["errors"]["status"]}))
PY
)
    rm -f "$fa" "$fb"
  else
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 5s -s "$BENCH_DIR/$script" "$a" | tail -n 1)
  fi
  [ -z "$perf" ] || wait "$perf" || true
  [ -z "$act" ] || { wait "$act" || true; }
  local c1 v1 p1 s1
  c1=$(commits); v1=$(cpu "$@"); p1=$(pg_cpu); s1=$(statements)
  batches "$WORK/batches1" "$a" "$b"
  python3 - "$label" "$out" "$c0" "$c1" "$v0" "$v1" "$p0" "$p1" "$(getconf CLK_TCK)" \
    "$s0" "$s1" "$WORK/statements.jsonl" "${act:+$WORK/activity.txt}" "$([ -n "$b" ] && echo 2 || echo 1)" \
    "$WORK/batches0" "$WORK/batches1" <<'PY'
import collections, json, sys
label, out = sys.argv[1], json.loads(sys.argv[2])
c0, c1, v0, v1, p0, p1, hz = map(int, sys.argv[3:10])
n = max(out["requests"], 1)
if label != "sqlite-16":  # this load's statements, kept for the per-setup table at the end
    s0, s1 = json.loads(sys.argv[10]), json.loads(sys.argv[11])
    with open(sys.argv[12], "a") as f:
        for q, (calls, ms, text, wal, blks) in s1.items():
            b = s0.get(q, [0, 0, "", 0, 0])
            c, m = calls - b[0], ms - b[1]
            if c > 0:
                f.write(json.dumps({"setup": label, "query": text, "calls": c, "exec_ms": m, "creates": n,
                                    "wal": int(wal) - int(b[3]), "blks": blks - b[4],
                                    "pg_cpu_ms": (p1 - p0) * 1e3 / hz}) + "\n")
def activity(path, replicas):
    """Averaged over the load's replicas, the share of samples with a statement running, by what it waits on."""
    if not path:
        return {}
    rows = [l.rstrip("\n").split("|") for l in open(path) if l.count("|") == 2]
    samples = max((int(r[0]) for r in rows), default=0)
    if samples == 0:
        return {}
    kind = lambda t, e: "cpu" if t == "CPU" else "wal_io" if t == "IO" and e.startswith("WAL") else \
        "row_lock" if t == "Lock" and e in ("transactionid", "tuple") else \
        "lock_other" if t == "Lock" else "lwlock" if t == "LWLock" else "other"
    c = collections.Counter(kind(t, e) for _, t, e in rows)
    share = {k: round(c[k] / samples / replicas, 3)
             for k in ("cpu", "wal_io", "row_lock", "lock_other", "lwlock", "other")}
    return {"in_pg": round(sum(share.values()), 3), **{"in_pg_" + k: v for k, v in share.items()}}
def fix(k):  # "x_count{l}" -> "x{l}_count", so a series' sum and count share a stem
    for suffix in ("_sum", "_count"):
        stem, _, labels = k.partition("{")
        if stem.endswith(suffix):
            return stem[: -len(suffix)] + ("{" + labels if labels else "") + suffix
    return k
def batches(before, after):
    """The committers' batches during the load (their /metrics, summed over the replicas): mean
    creates per batch, mean batch time, and a one-statement batch's mean phases."""
    def read(path):
        sums = collections.Counter()
        for line in open(path):
            series, _, value = line.rpartition(" ")
            if "_bucket" not in series:
                sums[fix(series)] += float(value)
        return sums
    d = read(after)
    d.subtract(read(before))
    mean = lambda name, scale: round(d[name + "_sum"] * scale / d[name + "_count"], 1) if d[name + "_count"] > 0 else None
    size = "vidgate_store_create_batch_size"
    took = [k[:-len("_count")] for k in d if k.startswith("vidgate_store_create_batch_seconds{") and k.endswith("_count")]
    n = sum(d[k + "_count"] for k in took)
    got = {"batch": mean(size, 1), "batch_ms": round(sum(d[k + "_sum"] for k in took) * 1e3 / n, 2) if n else None}
    for phase in ("connection", "read", "statement"):
        got[phase + "_us"] = mean('vidgate_store_create_batch_phase_seconds{phase="%s"}' % phase, 1e6)
    return got
errors = out.get("non_2xx", out.get("errors", {}).get("status", 0))
print(json.dumps({"setup": label, "rps": round(out["rps"]), "p99_ms": out["p99_ms"], "non_2xx": errors,
                  "commits_per_create": round((c1 - c0) / n, 3) if label != "sqlite-16" else None,
                  "vidgate_cpu_us": round((v1 - v0) * 1e6 / hz / n, 1),
                  "postgres_cpu_us": round((p1 - p0) * 1e6 / hz / n, 1) if label != "sqlite-16" else None,
                  **activity(sys.argv[13], int(sys.argv[14])), **batches(sys.argv[15], sys.argv[16])}))
PY
}

# --- the servers: one SQLite, two PostgreSQL replicas ---------------------------------------
PS=$(port); start "$PS" "$WORK/sqlite"; SQ=$STARTED
SQ_KEYS=$(fund --data-dir "$WORK/sqlite")
P1=$(port); start "$P1" "$WORK/p1" DATABASE_URL="$DB"; R1=$STARTED
P2=$(port); start "$P2" "$WORK/p2" DATABASE_URL="$DB"; R2=$STARTED
PG_KEYS=$(fund --database-url "$DB")
psql "$DB" -Atqc "SELECT pg_stat_statements_reset()" >/dev/null
ROUTE=/tencent-vod/v1/aigc-video
echo "# $(nproc) cores, $CONNS connections, $DURATION per load, $ROUNDS rounds; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') fsync=on synchronous_commit=on"
RESULTS=$WORK/rounds.jsonl
for i in $(seq 1 "$ROUNDS"); do
  BENCH_KEYS=$SQ_KEYS measure sqlite-16 create-keys.lua "http://127.0.0.1:$PS$ROUTE" "" -- "$SQ" | tee -a "$RESULTS"
  BENCH_KEYS=$PG_KEYS measure pg1-16 create-keys.lua "http://127.0.0.1:$P1$ROUTE" "" -- "$R1" | tee -a "$RESULTS"
  BENCH_KEYS=$PG_KEYS measure pg2-16 create-keys.lua "http://127.0.0.1:$P1$ROUTE" "http://127.0.0.1:$P2$ROUTE" -- "$R1" "$R2" | tee -a "$RESULTS"
  measure pg1-1 create.lua "http://127.0.0.1:$P1$ROUTE" "" -- "$R1" | tee -a "$RESULTS"
  # The control for two replicas: one replica with half the connections, i.e. each of the two
  # replicas' own load, so its batches are as small as theirs (HALF=1).
  if [ -n "${HALF:-}" ]; then
    CONNS=$((CONNS / 2)) BENCH_KEYS=$PG_KEYS measure pg1-16-half create-keys.lua "http://127.0.0.1:$P1$ROUTE" "" -- "$R1" | tee -a "$RESULTS"
  fi
  if [ -n "${SPLIT:-}" ]; then
    BENCH_KEYS_A=$(echo "$PG_KEYS" | cut -d, -f1-8) BENCH_KEYS_B=$(echo "$PG_KEYS" | cut -d, -f9-16) \
      measure pg2-16-split create-keys.lua "http://127.0.0.1:$P1$ROUTE" "http://127.0.0.1:$P2$ROUTE" -- "$R1" "$R2" | tee -a "$RESULTS"
  fi
done
CREATES=$(psql "$DB" -Atqc "SELECT count(*) FROM tasks")
echo "# medians over the rounds"
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["setup"], []).append(r)
med = {s: {k: statistics.median([r[k] for r in rs]) if rs[0][k] is not None else None
           for k in ("rps", "p99_ms", "commits_per_create", "vidgate_cpu_us", "postgres_cpu_us")}
       for s, rs in by.items()}
base = med["sqlite-16"]["rps"]
for s, m in med.items():
    print(json.dumps({"setup": s, **m, "ratio_to_sqlite_16": round(m["rps"] / base, 3)}))
PY
echo "# statements per create over every PostgreSQL round ($CREATES creates), by total time"
psql "$DB" -Atq -F ' | ' -c "
  SELECT round(calls::numeric / $CREATES, 3) AS per_create,
         round((total_exec_time * 1000 / $CREATES)::numeric, 1) AS exec_us_per_create,
         round((total_plan_time * 1000 / $CREATES)::numeric, 1) AS plan_us_per_create,
         plans,
         left(regexp_replace(query, '\s+', ' ', 'g'), 110)
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'vidgate')
  ORDER BY total_exec_time + total_plan_time DESC LIMIT 14"
echo "# each PostgreSQL setup's statements over its rounds: executor µs per create (calls per create)"
python3 - "$WORK/statements.jsonl" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
setups = collections.defaultdict(lambda: {"q": collections.defaultdict(lambda: [0, 0.0, 0, 0]), "loads": {}})
for r in rows:
    s = setups[r["setup"]]
    s["q"][r["query"]][0] += r["calls"]; s["q"][r["query"]][1] += r["exec_ms"]
    s["q"][r["query"]][2] += r["wal"]; s["q"][r["query"]][3] += r["blks"]
    s["loads"][(r["creates"], r["pg_cpu_ms"])] = 1
for name, s in setups.items():
    creates = sum(c for c, _ in s["loads"]); cpu = sum(m for _, m in s["loads"])
    # Top-level statements only would be exact; the trigger's nested ones are counted twice
    # (inside the INSERT and on their own), so the executor sum is an upper bound.
    total = sum(v[1] for v in s["q"].values())
    print(f"{name}: executor {total * 1e3 / creates:.1f} µs per create (nested counted twice) of the"
          f" backends' {cpu * 1e3 / creates:.1f} µs CPU")
    for q, (calls, ms, wal, blks) in sorted(s["q"].items(), key=lambda kv: -kv[1][1])[:8]:
        print(f"  {ms * 1e3 / creates:7.1f} µs ({calls / creates:.3f}) {wal / creates:6.0f} B WAL"
              f" {blks / creates:5.1f} buffers  {q}")
PY
