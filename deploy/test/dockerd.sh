#!/usr/bin/env bash
# Start or stop a private Docker engine for the build and the deployment test, writing no firewall
# rules (no iptables, no IP forwarding: containers reach each other and published 127.0.0.1 ports,
# nothing outside). Stopped by the PID it recorded, never by name.
#
#   dockerd.sh start     # no-op when an engine already answers on the socket
#   dockerd.sh stop      # stops only an engine this script started; removes its netns mount and bridge
#   dockerd.sh status
#
# Environment: DOCKERD_DATA_ROOT (default /var/lib/docker-sparkjobs), DOCKERD_RUN_DIR (default
# /run/sparkjobs-dockerd: pid file and log), DOCKERD_TIMEOUT (seconds to wait, default 60).
set -euo pipefail

data_root=${DOCKERD_DATA_ROOT:-/var/lib/docker-sparkjobs}
run_dir=${DOCKERD_RUN_DIR:-/run/sparkjobs-dockerd}
timeout=${DOCKERD_TIMEOUT:-60}
pidfile=$run_dir/dockerd.pid
log=$run_dir/dockerd.log

ours() { [[ -f $pidfile ]] && kill -0 "$(<"$pidfile")" 2>/dev/null; }

case ${1:-} in
  start)
    if docker info >/dev/null 2>&1; then
      echo "dockerd: an engine already answers ($(docker info --format '{{.ServerVersion}}'))"
      exit 0
    fi
    command -v dockerd >/dev/null || {
      echo "error: dockerd not found; install it with: apt-get install -y --no-install-recommends docker.io" >&2
      exit 2
    }
    if [[ $(id -u) -ne 0 ]]; then
      echo "error: starting dockerd needs root" >&2
      exit 2
    fi
    mkdir -p "$run_dir" "$data_root"
    dockerd --iptables=false --ip6tables=false --ip-forward=false --data-root "$data_root" \
      --pidfile "$run_dir/dockerd.engine.pid" >"$log" 2>&1 &
    echo $! >"$pidfile"
    deadline=$((SECONDS + timeout))
    until docker info >/dev/null 2>&1; do
      if ! ours; then
        echo "error: dockerd exited; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        rm -f "$pidfile"
        exit 1
      fi
      if ((SECONDS > deadline)); then
        echo "error: dockerd did not answer within ${timeout}s (log: $log)" >&2
        exit 1
      fi
      sleep 0.5
    done
    echo "dockerd: started (pid $(<"$pidfile"), data root $data_root)"
    ;;
  stop)
    if ! ours; then
      rm -f "$pidfile"
      echo "dockerd: no engine started by this script is running"
      exit 0
    fi
    pid=$(<"$pidfile")
    kill -TERM "$pid"
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS > deadline)); then
        echo "dockerd (pid $pid) did not stop in ${timeout}s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.5
    done
    rm -f "$pidfile"
    umount /run/docker/netns/default 2>/dev/null || true
    ip link delete docker0 2>/dev/null || true
    echo "dockerd: stopped (pid $pid)"
    ;;
  status)
    if ours; then echo "dockerd: running (pid $(<"$pidfile"))"; else echo "dockerd: not started by this script"; fi
    docker info >/dev/null 2>&1 && echo "engine: answers" || echo "engine: does not answer"
    ;;
  *)
    echo "usage: $(basename "$0") start|stop|status" >&2
    exit 2
    ;;
esac
