#!/bin/sh
# meshbook lab cluster: the first process of one pod (see lab/README.md "The cluster").
#
# Started by lab/cluster/workloads.ts as
#   nsenter --net=/run/netns/<pod netns> unshare --mount --uts --pid --fork --kill-child \
#       --mount-proc --propagation private -- /bin/sh pod-init.sh NAME PODDIR SIDECAR CIDR -- APP...
# so it runs in the pod's own network, mount, UTS and PID namespaces (as PID 1) and every
# mount below stays inside the pod. It builds the pod's private view, starts the sidecar
# (SIDECAR=1: NGINX plus the interception rules for the Service CIDR) and then becomes the
# app (`node hello.mjs`).
#
#   PODDIR  the pod's directory in the lab state dir: hosts, app/ (the hello app),
#           sidecar/ (nginx.conf, sidecar.sh, istio-iptables.sh)
#
# Private views (writes never reach the machine; they die with the pod):
#   /run   fresh tmpfs, holding /run/meshlab/{etc,app,sidecar}
#   /etc   overlayfs over the machine's /etc, changes on that tmpfs (a copy without
#          overlayfs): /etc/hosts is the pod's (the lab's cluster DNS), /etc/hostname its
#          name, and the istio-proxy user (uid 1337) exists for the sidecar's workers
set -eu

name=$1
poddir=$2
sidecar=$3
cidr=$4
shift 4
[ "${1:-}" = -- ] && shift

# the copy of the machine's mount table holds one handle per network namespace: drop them,
# or deleted namespaces would live on in this pod
if mountpoint -q /run/netns; then
  umount -l /run/netns
fi
hostname "$name"

mount -t tmpfs -o mode=0755,nosuid,nodev,size=32m lab-pod-run /run
mkdir -p /run/lock /run/meshlab/etc/upper /run/meshlab/etc/work /run/meshlab/app /run/meshlab/sidecar
if ! mount -t overlay lab-pod-etc -o lowerdir=/etc,upperdir=/run/meshlab/etc/upper,workdir=/run/meshlab/etc/work /etc 2>/dev/null; then
  mkdir -p /run/meshlab/etc-copy
  tar -C /etc --one-file-system -cf - . | tar -C /run/meshlab/etc-copy -xpf -
  mount --bind /run/meshlab/etc-copy /etc
fi
cp "$poddir/hosts" /etc/hosts
echo "$name" >/etc/hostname
cp -R "$poddir/app/." /run/meshlab/app/

if [ "$sidecar" = 1 ]; then
  cp "$poddir/sidecar/nginx.conf" "$poddir/sidecar/sidecar.sh" "$poddir/sidecar/istio-iptables.sh" /run/meshlab/sidecar/
  /bin/sh /run/meshlab/sidecar/sidecar.sh up /run/meshlab/sidecar "$cidr" >/dev/null
fi

echo "pod-init[$name]: ready, starting $*" >&2
exec "$@"
