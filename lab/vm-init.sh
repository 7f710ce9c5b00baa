#!/bin/sh
# meshbook lab: the first process of one lab VM (see lab/README.md).
#
# Started by lab/vm.ts (startVm) as
#   ip netns exec <prefix>-<vm> unshare --mount --uts --pid --fork --kill-child \
#       --mount-proc --propagation private -- /bin/sh vm-init.sh NAME VMDIR PROFILEDIR
# so it already runs in the VM's own network, mount, UTS and PID namespaces (as PID 1)
# and every mount below stays inside this VM. It sets the hostname, builds the VM's
# private filesystem view and then becomes the VM's sshd.
#
#   NAME        VM name and hostname (vm1)
#   VMDIR       the VM's directory in the lab state dir (host keys, sshd_config,
#               authorized_keys, overlay upper/work dirs, fresh dirs)
#   PROFILEDIR  vm/profiles/<profile>: os-release (+ optional etc/ tree for /etc)
#
# Private views (writes never reach the machine):
#   /etc /usr /opt /var   overlayfs: the machine's dir as the read-only lower layer,
#                         upper/work in VMDIR/fs/<dir> (fallbacks: see "mode" below)
#   /run (= /var/run)     fresh tmpfs (like a booted VM), with /run/sshd
#   /dev/shm              fresh tmpfs
#   /root /home /tmp      fresh per-VM dirs in VMDIR/fs
set -eu

name=$1
vmdir=$2
profile=$3

say() { printf 'vm-init[%s]: %s\n' "$name" "$*" >&2; }
cd /

# This mount namespace started as a copy of the machine's, including one bind mount per
# network namespace under /run/netns. Such a copy keeps that namespace alive even after
# `ip netns del`, so drop them all first (lazy unmount detaches the whole subtree).
if mountpoint -q /run/netns; then
  umount -l /run/netns
fi

hostname "$name"

# cgroups, as a booted VM has them (a container engine needs them): `ip netns exec` gave this
# mount namespace a fresh /sys without the machine's cgroup mounts, so mount each hierarchy
# this process belongs to (/proc/self/cgroup: the machine's v1 controllers and/or the v2
# tree) again under /sys/fs/cgroup. The same hierarchies, not new ones: nothing changes on
# the machine, and what a VM's daemon creates there lives under its own cgroup parent.
if ! mountpoint -q /sys/fs/cgroup 2>/dev/null && [ -r /proc/self/cgroup ]; then
  if grep -q '^0::' /proc/self/cgroup && [ "$(wc -l < /proc/self/cgroup)" -eq 1 ]; then
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
  else
    mount -t tmpfs -o mode=0755,nosuid,nodev,noexec "lab-$name-cgroup" /sys/fs/cgroup
    while IFS=: read -r _ ctl _; do
      case $ctl in
        '') mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/unified ;;
        name=*) d=${ctl#name=}; mkdir -p "/sys/fs/cgroup/$d" && mount -t cgroup -o "nosuid,nodev,noexec,none,$ctl" cgroup "/sys/fs/cgroup/$d" ;;
        *) mkdir -p "/sys/fs/cgroup/$ctl" && mount -t cgroup -o "nosuid,nodev,noexec,$ctl" cgroup "/sys/fs/cgroup/$ctl" ;;
      esac || say "cannot mount the cgroup hierarchy ${ctl:-v2}"
    done < /proc/self/cgroup
  fi
fi

# a booted VM's fresh /run, holding this VM's sshd files (copied now: later mounts may
# hide the state dir, e.g. when it lives under /tmp or /root)
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m "lab-$name-run" /run
mkdir -p /run/sshd /run/lock /run/meshlab
chmod 0755 /run/sshd
chmod 1777 /run/lock
chmod 0700 /run/meshlab
cp "$vmdir/sshd_config" "$vmdir/ssh_host_ed25519_key" "$vmdir/ssh_host_ed25519_key.pub" \
  "$vmdir/authorized_keys" /run/meshlab/
chmod 0600 /run/meshlab/*
# reach VMDIR through a bind mount that the mounts below cannot hide
mkdir /run/meshlab/vm
mount --bind "$vmdir" /run/meshlab/vm
vmdir=/run/meshlab/vm

# How private dirs are made (MESHBOOK_LAB_FS forces one, for tests):
#   overlay        overlayfs, upper/work in VMDIR/fs/<dir> (persists across VM restarts)
#   tmpfs-overlay  overlayfs, upper/work on a tmpfs (when the state dir's filesystem cannot
#                  be an overlay upper, e.g. itself an overlay): lost when the VM stops
#   copy           no overlayfs at all: a one-time copy of /etc; fresh empty dirs on /opt,
#                  /usr/local and a skeleton /var; /usr otherwise shared
mode=${MESHBOOK_LAB_FS:-auto}
if [ "$mode" = auto ]; then
  if grep -qw overlay /proc/filesystems; then mode=overlay; else mode=copy; fi
fi

overlay() { # overlay DIR BASE
  mkdir -p "$2/upper" "$2/work"
  # the merged root takes the upper dir's owner and mode
  chown --reference="$1" "$2/upper"
  chmod --reference="$1" "$2/upper"
  mount -t overlay "lab-$name" -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$1"
}

# private DIR: this VM's own copy-on-write view of the machine's DIR
private() {
  d=$1
  if [ "$mode" = overlay ]; then
    if overlay "$d" "$vmdir/fs$d" 2>/dev/null; then return 0; fi
    say "cannot use the state dir as overlay upper for $d: keeping VM changes on a tmpfs"
    mode=tmpfs-overlay
  fi
  if [ "$mode" = tmpfs-overlay ]; then
    if ! mountpoint -q /run/meshlab/ovl; then
      mkdir -p /run/meshlab/ovl
      mount -t tmpfs -o mode=0700,size=1g "lab-$name-ovl" /run/meshlab/ovl
    fi
    overlay "$d" "/run/meshlab/ovl$d"
    return 0
  fi
  case $d in
    /etc)
      if [ ! -e "$vmdir/fs/etc.copy.done" ]; then
        rm -rf "$vmdir/fs/etc.copy"
        mkdir -p "$vmdir/fs/etc.copy"
        tar -C /etc --one-file-system -cf - . | tar -C "$vmdir/fs/etc.copy" -xpf -
        touch "$vmdir/fs/etc.copy.done"
      fi
      mount --bind "$vmdir/fs/etc.copy" /etc
      ;;
    /var)
      mkdir -p "$vmdir/fs/var.fresh"
      (cd "$vmdir/fs/var.fresh" && mkdir -p lib log cache spool mail opt local backups &&
        mkdir -p -m 1777 tmp && ln -sfn /run run && ln -sfn /run/lock lock)
      mount --bind "$vmdir/fs/var.fresh" /var
      ;;
    *)
      fresh "$d" 0755
      ;;
  esac
}

# fresh DIR MODE: an empty per-VM directory on DIR
fresh() {
  base=$vmdir/fs$1
  mkdir -p "$base"
  chmod "$2" "$base"
  mount --bind "$base" "$1"
}

if [ "$mode" = copy ]; then
  say "overlayfs is not available: private copy of /etc, fresh /opt /usr/local /var, shared /usr"
  private /etc
  private /usr/local
else
  private /etc
  private /usr
fi
private /opt
private /var

# distro profile: /etc/os-release as a regular file (on the machine it is a symlink to
# ../usr/lib/os-release), the same text in /usr/lib/os-release, and no distro marker
# file of the machine's own distro unless the profile brings it in its etc/ tree
rm -f /etc/os-release
cp "$profile/os-release" /etc/os-release
chmod 0644 /etc/os-release
for f in debian_version lsb-release redhat-release centos-release system-release \
  system-release-cpe alinux-release; do
  rm -f "/etc/$f"
done
if [ -d "$profile/etc" ]; then
  cp -R "$profile/etc/." /etc/
fi
if [ "$mode" = copy ]; then
  mount --bind /etc/os-release /usr/lib/os-release
else
  rm -f /usr/lib/os-release
  cp /etc/os-release /usr/lib/os-release
fi

mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m "lab-$name-shm" /dev/shm

# last: these may hide the profile dir (nothing below reads it)
fresh /root 0700
fresh /home 0755
fresh /tmp 1777
# the VM's /var/lib/docker: a plain dir of the state dir (VMDIR/docker), not the /var overlay,
# so a Docker daemon in this VM (lab/docker/daemon.ts) keeps its data there with overlay2
mkdir -p "$vmdir/docker" /var/lib/docker
chmod 0710 "$vmdir/docker"
mount --bind "$vmdir/docker" /var/lib/docker
umount -l /run/meshlab/vm

say "ready: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release) on $(hostname), starting sshd"
exec /usr/sbin/sshd -D -e -f /run/meshlab/sshd_config
