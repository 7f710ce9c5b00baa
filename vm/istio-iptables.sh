#!/usr/bin/env bash
# The NAT rules istio-iptables (inside the ASM VM proxy / istio-sidecar) installs on a
# VM, as article 1 §5 shows them. The lab runs this where the real proxy container
# cannot run. Idempotent: the ISTIO_* chains are rewritten whole and the two jumps into
# them are added only when missing. Needs SERVICE_CIDR; PROXY_UID defaults to 1337.
set -euo pipefail
: "${SERVICE_CIDR:?SERVICE_CIDR is required}"
PROXY_UID=${PROXY_UID:-1337}
PROXY_GID=${PROXY_GID:-$PROXY_UID}

for c in ISTIO_INBOUND ISTIO_IN_REDIRECT ISTIO_OUTPUT ISTIO_REDIRECT; do
  iptables -t nat -N "$c" 2>/dev/null || iptables -t nat -F "$c"
done
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
iptables -t nat -A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
iptables -t nat -A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner "$PROXY_UID" -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner "$PROXY_UID" -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner "$PROXY_UID" -j RETURN
iptables -t nat -A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner "$PROXY_GID" -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner "$PROXY_GID" -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner "$PROXY_GID" -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d "$SERVICE_CIDR" -j ISTIO_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -j RETURN
iptables -t nat -C PREROUTING -p tcp -j ISTIO_INBOUND 2>/dev/null || iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t nat -C OUTPUT -p tcp -j ISTIO_OUTPUT 2>/dev/null || iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
echo "interception rules set (Service CIDR $SERVICE_CIDR, proxy uid $PROXY_UID)"
