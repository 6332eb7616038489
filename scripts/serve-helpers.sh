# Sourced by the scripts that run a release emotion-serve (bench-serve.sh, screenshot-docs.sh).
#
# start_serve PORT LOG ARGS...: starts target/release/emotion-serve on 127.0.0.1:PORT with
# ARGS, its output in LOG, its pid in $server (sent SIGTERM when the script exits), and waits
# up to a minute for /health; prints LOG and fails if it never answers.
start_serve() {
    local port=$1 log=$2
    shift 2
    "$root/target/release/emotion-serve" --port "$port" "$@" > "$log" 2>&1 &
    server=$!
    trap 'kill -TERM $server 2>/dev/null || true' EXIT
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$log"
    return 1
}
