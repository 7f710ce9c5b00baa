#!/bin/sh
# meshbook lab cluster: start, reload or stop one NGINX proxy of the lab's data plane.
#
#   sidecar.sh up   DIR [SERVICE_CIDR]   check DIR/nginx.conf (nginx -t), then reload the
#                                        running proxy (SIGHUP) or start it; with SERVICE_CIDR
#                                        it is a sidecar: the istio-proxy user (uid/gid 1337,
#                                        the workers' user) is added to this /etc when missing
#                                        and DIR/istio-iptables.sh sets the interception rules
#                                        when they are missing
#   sidecar.sh down DIR [sidecar]        stop the proxy; `sidecar`: remove the interception
#
# Runs inside the proxy's namespaces: a VM's or pod's (nsenter into its PID 1, so /etc is
# that VM's or pod's private /etc), or the node's network namespace for the gateway (which
# passes no SERVICE_CIDR and touches no /etc). Prints one word: started, reloaded, stopped.
set -eu
action=$1
dir=$2
arg=${3:-}
nginx=/usr/sbin/nginx
conf=$dir/nginx.conf

master_pid() {
  [ -s "$dir/nginx.pid" ] || return 1
  pid=$(cat "$dir/nginx.pid")
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ] || return 1
  echo "$pid"
}

case $action in
  up)
    if [ -n "$arg" ]; then
      grep -q '^istio-proxy:' /etc/group || echo 'istio-proxy:x:1337:' >>/etc/group
      grep -q '^istio-proxy:' /etc/passwd ||
        echo 'istio-proxy:x:1337:1337:istio-proxy (meshbook lab sidecar):/nonexistent:/usr/sbin/nologin' >>/etc/passwd
    fi
    if ! out=$("$nginx" -t -q -p "$dir" -c "$conf" -e "$dir/error.log" 2>&1); then
      printf 'nginx -t failed for %s: %s\n' "$conf" "$out" >&2
      exit 1
    fi
    if pid=$(master_pid); then
      kill -HUP "$pid"
      echo reloaded
    else
      "$nginx" -p "$dir" -c "$conf" -e "$dir/error.log" </dev/null >>"$dir/start.log" 2>&1
      echo started
    fi
    if [ -n "$arg" ]; then
      if ! iptables -t nat -C OUTPUT -p tcp -j ISTIO_OUTPUT 2>/dev/null ||
        ! iptables -t nat -C PREROUTING -p tcp -j ISTIO_INBOUND 2>/dev/null ||
        ! iptables -t nat -S ISTIO_OUTPUT | grep -qF -- "-d $arg -j ISTIO_REDIRECT"; then
        SERVICE_CIDR=$arg PROXY_UID=1337 bash "$dir/istio-iptables.sh" >/dev/null
      fi
    fi
    ;;
  down)
    if pid=$(master_pid); then
      kill -QUIT "$pid"
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do
        sleep 0.05
        i=$((i + 1))
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    if [ "$arg" = sidecar ]; then
      iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND 2>/dev/null || true
      iptables -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT 2>/dev/null || true
      for c in ISTIO_INBOUND ISTIO_IN_REDIRECT ISTIO_OUTPUT ISTIO_REDIRECT; do
        iptables -t nat -F "$c" 2>/dev/null || true
      done
      for c in ISTIO_INBOUND ISTIO_IN_REDIRECT ISTIO_OUTPUT ISTIO_REDIRECT; do
        iptables -t nat -X "$c" 2>/dev/null || true
      done
    fi
    echo stopped
    ;;
  *)
    echo "usage: sidecar.sh up|down DIR [SERVICE_CIDR|sidecar]" >&2
    exit 2
    ;;
esac
