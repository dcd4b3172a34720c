#!/usr/bin/env bash
# redis-benchmark against examples/kv_server and a real redis-server, in the
# same run: SET and GET, unpipelined and pipelined (-P 16); prints each
# side's requests/s, p50 and p99 latency, kv_server's ratio to Redis, and
# the CPU time each server spent per request (user + system, from /proc).
#
# On a machine shared with other work, requests/s favours the server with
# more threads (the scheduler shares CPU time per thread: kv_server runs an
# I/O thread and a pool worker per core, redis-server one thread); CPU per
# request does not depend on that share, so read both.
#
#   benches/redis_vs_kv.sh                  # 200000 requests, 50 clients, 1 round
#   ROUNDS=3 benches/redis_vs_kv.sh         # median of 3 interleaved rounds
#   KV_ARGS="--shards 4 --workers 1" benches/redis_vs_kv.sh
#
# Needs redis-server and redis-benchmark (apt-get install redis-server
# redis-tools). Both servers listen on free loopback ports and are stopped
# on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${REQUESTS:-200000}
clients=${CLIENTS:-50}
rounds=${ROUNDS:-1}
kv_args=${KV_ARGS:-"--shards 8"}

for tool in redis-server redis-benchmark redis-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "redis_vs_kv: $tool is missing: apt-get install redis-server redis-tools" >&2
    exit 1
  fi
done

cargo build --release --example kv_server >&2
kv_bin="${CARGO_TARGET_DIR:-target}/release/examples/kv_server"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on (redis-server cannot pick its own).
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "redis_vs_kv: no free port found" >&2
  exit 1
}

# Waits (up to 10 s) for a server to answer PING on $1.
await_ping() {
  for _ in $(seq 200); do
    if [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then return; fi
    sleep 0.05
  done
  echo "redis_vs_kv: nothing answers on port $1" >&2
  exit 1
}

tick=$(getconf CLK_TCK)
# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"$work/redis.log" 2>&1 &
pids+=($!)
await_ping "$redis_port"

kv_port=$(free_port)
# shellcheck disable=SC2086 # KV_ARGS is a list of arguments
"$kv_bin" --port "$kv_port" $kv_args >"$work/kv.log" 2>&1 &
pids+=($!)
await_ping "$kv_port"
redis_pid=${pids[0]}
kv_pid=${pids[1]}

echo "redis_vs_kv: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$requests requests, $clients clients, $rounds round(s); $(redis-server --version | cut -d' ' -f1-3);" \
  "kv_server $kv_args"

# One redis-benchmark run of one test: a line "server P test rps p50 p99
# cpu-us-per-request" into results.
bench() {
  local name=$1 port=$2 pid=$3 pipeline=$4 test=$5 before after
  before=$(cpu_ticks "$pid")
  redis-benchmark -h 127.0.0.1 -p "$port" -t "$test" -n "$requests" -c "$clients" \
    -P "$pipeline" --csv 2>/dev/null >"$work/run.csv"
  after=$(cpu_ticks "$pid")
  awk -F'"' -v name="$name" -v p="$pipeline" -v cpu="$((after - before))" -v tick="$tick" \
    -v n="$requests" 'NR > 1 && $2 != "" { print name, p, $2, $4, $10, $14, cpu * 1e6 / tick / n }' \
    "$work/run.csv" >>"$work/results"
}

for round in $(seq "$rounds"); do
  for pipeline in 1 16; do
    for test in set get; do
      bench redis "$redis_port" "$redis_pid" "$pipeline" "$test"
      bench kv "$kv_port" "$kv_pid" "$pipeline" "$test"
    done
  done
  echo "round $round of $rounds done" >&2
done

# The median over rounds of each cell, then the table.
awk -v rounds="$rounds" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  {
    key = $2 SUBSEP $3
    rps[$1, key] = rps[$1, key] " " $4
    p50[$1, key] = p50[$1, key] " " $5
    p99[$1, key] = p99[$1, key] " " $6
    cpu[$1, key] = cpu[$1, key] " " $7
    if (!(key in seen)) { seen[key] = 1; order[++keys] = key }
  }
  END {
    printf "| %-8s | %-3s | %14s | %14s | %7s | %20s | %20s | %22s |\n", "pipeline", "cmd", "redis-server/s", "kv_server/s", "ratio", "p50 ms redis / kv", "p99 ms redis / kv", "CPU us/req redis / kv"
    printf "|----------|-----|----------------|----------------|---------|----------------------|----------------------|------------------------|\n"
    for (k = 1; k <= keys; k++) {
      split(order[k], part, SUBSEP)
      r = median(rps["redis", order[k]]); v = median(rps["kv", order[k]])
      printf "| %-8s | %-3s | %14.0f | %14.0f | %6.2fx | %9.3f / %-8.3f | %9.3f / %-8.3f | %9.2f / %-10.2f |\n", \
        (part[1] == 1 ? "none" : "-P " part[1]), part[2], r, v, v / r, \
        median(p50["redis", order[k]]), median(p50["kv", order[k]]), \
        median(p99["redis", order[k]]), median(p99["kv", order[k]]), \
        median(cpu["redis", order[k]]), median(cpu["kv", order[k]])
    }
  }' "$work/results"
