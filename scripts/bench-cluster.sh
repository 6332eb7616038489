#!/usr/bin/env bash
# The emotion functions on a loopback Apache DataFusion Ballista cluster, in one run: plain
# DataFusion in this process, then `emotion-scheduler` with 1 executor (all cores), then with 2
# executors (the cores split between them), each over the same Parquet files (4 of them, so 4
# tasks) and the same query. Prints the CPU, then one line per setup: texts, seconds from
# submitting the query to its answer (the first task loads the model), texts/s, and the ratio
# to plain DataFusion. Executors' result caches are off.
#
#   scripts/bench-cluster.sh
#   MODEL=../shared/models/tiny-roberta-emotion scripts/bench-cluster.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED:-$root/../shared}
model=${MODEL:-$shared/models/emotion-minilm-ekman}
cores=$(nproc)
out=$root/target/bench-cluster
rm -rf "$out"
mkdir -p "$out/work"

scripts/setup-libtorch.sh
cargo build --quiet --release -p emotion-classifier-sql --features ballista --bins --example sql
bin=$root/target/release
sql=$bin/examples/sql

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) | $cores cores |" \
    "features: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -xE 'avx2|avx512f|avx512_vnni|avx_vnni|avx512_bf16|amx_bf16|amx_int8' | xargs)"

"$sql" --model "$model" --make-demo "$out/data" --demo-files 4 \
    --demo-source "$shared/data/goemotions/ekman/test.tsv" -c "SELECT count(*) FROM '$out/data/'" \
    >/dev/null 2>&1
# Every text goes through the model once: the sum needs each row's score.
query="SELECT count(*) AS texts, sum(emotion(text, 'joy')) AS joy FROM '$out/data/'"
texts=$(grep -c '' "$shared/data/goemotions/ekman/test.tsv")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_ok() { # port path: whether GET answers 200
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3
    local status; read -t 2 -r _ status _ <&3 || true
    exec 3>&-
    [ "$status" = 200 ]
}
wait_for() { # what, command...: up to 2 minutes
    local what=$1; shift
    for _ in $(seq 600); do "$@" && return 0; sleep 0.2; done
    echo "bench-cluster: gave up waiting for $what (logs in $out)" >&2
    exit 1
}
tcp_open() { { (exec 3<>"/dev/tcp/127.0.0.1/$1"); } 2>/dev/null; }
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

report() { # name seconds
    awk -v n="$1" -v s="$2" -v t="$texts" -v base="${base:-$2}" \
        'BEGIN { printf "%-28s %6d texts %7.2f s %8.0f texts/s %6.2fx plain DataFusion\n", n, t, s, t / s, base / s }'
}
seconds_of() { sed -n 's/.*query took \([0-9.]*\) s.*/\1/p; s/.* texts in \([0-9.]*\) s .*/\1/p' "$1" | tail -1; }

"$sql" --model "$model" --partitions 4 --cache-capacity 0 -c "$query" >"$out/local.out" 2>"$out/local.err"
base=$(seconds_of "$out/local.err")
report "plain DataFusion (1 process)" "$base"

for executors in 1 2; do
    port=$(free_port)
    "$bin/emotion-scheduler" --model "$model" --bind-host 127.0.0.1 --external-host 127.0.0.1 \
        --bind-port "$port" >"$out/scheduler-$executors.log" 2>&1 &
    pids+=($!)
    wait_for "the scheduler" tcp_open "$port"
    health=()
    for n in $(seq 1 "$executors"); do
        h=$(free_port)
        health+=("$h")
        "$bin/emotion-executor" --model "$model" --scheduler-host 127.0.0.1 --scheduler-port "$port" \
            --bind-host 127.0.0.1 --external-host 127.0.0.1 --bind-port "$(free_port)" \
            --bind-grpc-port "$(free_port)" --bind-health-port "$h" --id "executor-$n" \
            --vcores $((cores / executors > 0 ? cores / executors : 1)) --cache-capacity 0 \
            --report-seconds 1 --work-dir "$out/work" >"$out/executor-$executors-$n.log" 2>&1 &
        pids+=($!)
    done
    for h in "${health[@]}"; do wait_for "an executor to register" http_ok "$h" /readyz; done
    "$sql" --model "$model" --remote "df://127.0.0.1:$port" -c "$query" \
        >"$out/cluster-$executors.out" 2>"$out/cluster-$executors.err"
    report "Ballista, $executors executor(s)" "$(seconds_of "$out/cluster-$executors.err")"
    sleep 1.5 # each executor logs its row count once a second
    for n in $(seq 1 "$executors"); do
        echo "    executor $n scored $(sed -n 's/.*emotion functions: \([0-9]*\) rows scored.*/\1/p' \
            "$out/executor-$executors-$n.log" | tail -1) texts"
    done
    cleanup
    pids=()
done
