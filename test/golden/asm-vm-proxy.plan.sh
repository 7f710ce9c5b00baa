#!/usr/bin/env bash
# meshbook plan for envs/asm-vm-proxy.env.example: the same commands a rebuild runs, for review.
# Secrets are masked as ***NAME***: this script does not carry them.
# A check exits 0 when nothing needs to change and 10 when the change must run.
set -euo pipefail
MESHBOOK_PRELUDE=$'set -euo pipefail\nexport LC_ALL=C\n# write_file DEST MODE [CONTENT]: CONTENT (or stdin) -> DEST through a temp file in the\n# same directory and a rename, so DEST is never left half-written. The temp file is\n# created exclusively (noclobber: O_EXCL, so nothing planted there is followed), with no\n# more than MODE from the start (umask), then chmod MODE (a directory\'s default ACL\n# overrides the umask), all before any content. It never outlives a failure: the work\n# runs in a subshell whose EXIT trap removes the temp file once it was created (a failed\n# chmod, write or rename - an immutable DEST, a mount point, a directory in the way: mv -T\n# never moves into it - and HUP/INT/TERM, e.g. a stopped run), so a secret is never left\n# in a second file; DEST stays as it was. No mktemp: a fleet runs this on every VM.\n# CONTENT as an argument spares a cat.\nwrite_file() {\n  local dest=$1 mode=$((8#$2)) tmp="$1.meshbook.$$.$RANDOM$RANDOM" mask\n  printf -v mask \'%04o\' $((0777 & ~mode))\n  (\n    made=\n    trap \'[ -z "$made" ] || rm -f -- "$tmp"\' EXIT\n    trap \'exit 129\' HUP; trap \'exit 130\' INT; trap \'exit 143\' TERM\n    umask "$mask"; set -C\n    : > "$tmp" || exit 1\n    made=1\n    chmod "$2" "$tmp" || exit 1\n    if [ $# -ge 3 ]; then printf \'%s\' "$3" >| "$tmp"; else cat >| "$tmp"; fi || exit 1\n    if ! mv -fT -- "$tmp" "$dest"; then\n      echo "write_file: $dest was not replaced (left as it was, temporary copy removed)" >&2\n      exit 1\n    fi\n    made=\n  )\n}\n# nap SECONDS: sleep without a process per tick (a fleet polls on every VM): a read that\n# times out on a pipe this shell holds both ends of, opened once per shell (one fork, no\n# exec; bash >= 4.1). nap_close before starting a daemon, which would inherit the pipe.\n__mb_nap_fd=\nnap() {\n  [ -n "$__mb_nap_fd" ] || exec {__mb_nap_fd}<> <(:)\n  read -r -t "$1" -u "$__mb_nap_fd" _ || true\n}\nnap_close() {\n  if [ -n "$__mb_nap_fd" ]; then exec {__mb_nap_fd}>&-; __mb_nap_fd=; fi\n}'
on_vm1() { ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.meshbook/known_hosts -o GlobalKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPath=/tmp/meshbook-0/cm/cc1fb3cfdc/557ac5638e9335e8 -o ControlPersist=120 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -p 22 -i /root/.ssh/id_ed25519 -o IdentitiesOnly=yes root@192.168.0.250 bash -c $'\'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi\'' < <(printf '%s\n' "$MESHBOOK_PRELUDE"; cat); }
on_vm2() { ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.meshbook/known_hosts -o GlobalKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPath=/tmp/meshbook-0/cm/cc1fb3cfdc/9fa2907e3a624c82 -o ControlPersist=120 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -p 22 root@192.168.0.251 bash -c $'\'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi\'' < <(printf '%s\n' "$MESHBOOK_PRELUDE"; cat); }
on_vm3() { ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.meshbook/known_hosts -o GlobalKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPath=/tmp/meshbook-0/cm/cc1fb3cfdc/2dfe1a19d8350aa1 -o ControlPersist=120 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -p 22 root@192.168.0.252 bash -c $'\'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi\'' < <(printf '%s\n' "$MESHBOOK_PRELUDE"; cat); }

# == asm-vm-proxy/01-preflight: Preflight: SSH, root, kernel and distro [article §1 示例环境 (example environment)]
# on vm1
on_vm1 <<'MESHBOOK_EOF'
echo "uid=$(id -u)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
echo '--- /etc/os-release'
cat /etc/os-release
MESHBOOK_EOF
# on vm2
on_vm2 <<'MESHBOOK_EOF'
echo "uid=$(id -u)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
echo '--- /etc/os-release'
cat /etc/os-release
MESHBOOK_EOF
# on vm3
on_vm3 <<'MESHBOOK_EOF'
echo "uid=$(id -u)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
echo '--- /etc/os-release'
cat /etc/os-release
MESHBOOK_EOF

# == asm-vm-proxy/02-install-docker: Install Docker for the distro [article §2 安装Docker (install Docker)]
# note: the article runs `yum update` (upgrades everything, prompts): not done
# note: the article's CentOS containerd.io rpm is a Fedora 30 build: CentOS 8 is EOL, repos are repointed to vault.centos.org and --allowerasing is used (needs consent)
# note: docker is enabled as well as started, so the --restart=always proxy survives a reboot
# on vm1
rc=0; on_vm1 <<'MESHBOOK_EOF' || rc=$?
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm1 <<'MESHBOOK_EOF'
yum install -y yum-utils
yum-config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo
yum install -y docker-ce docker-ce-cli containerd.io
systemctl enable --now docker
MESHBOOK_EOF
on_vm1 <<'MESHBOOK_EOF'
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm1: asm-vm-proxy/02-install-docker: check failed' >&2; exit 1; fi
# on vm2
# needs consent: dnf --allowerasing removes podman and runc from this CentOS 8 VM
rc=0; on_vm2 <<'MESHBOOK_EOF' || rc=$?
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm2 <<'MESHBOOK_EOF'
# CentOS 8 is end of life: its mirrors moved to vault.centos.org
if grep -qs '^mirrorlist=' /etc/yum.repos.d/CentOS-*.repo; then
  sed -i -e 's|^mirrorlist=|#mirrorlist=|' -e 's|^#\?baseurl=http://mirror.centos.org|baseurl=http://vault.centos.org|' /etc/yum.repos.d/CentOS-*.repo
fi
dnf install -y yum-utils
yum-config-manager --add-repo https://download.docker.com/linux/centos/docker-ce.repo
# containerd.io conflicts with the preinstalled podman/runc: --allowerasing removes them
dnf install -y --allowerasing docker-ce docker-ce-cli containerd.io
systemctl enable --now docker
MESHBOOK_EOF
on_vm2 <<'MESHBOOK_EOF'
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm2: asm-vm-proxy/02-install-docker: check failed' >&2; exit 1; fi
# on vm3
rc=0; on_vm3 <<'MESHBOOK_EOF' || rc=$?
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm3 <<'MESHBOOK_EOF'
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
systemctl enable --now docker
MESHBOOK_EOF
on_vm3 <<'MESHBOOK_EOF'
if v=$(docker version --format '{{.Server.Version}}' 2>/dev/null); then echo "docker server $v answers"; exit 0; fi
echo 'no Docker server answers'
exit 10
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm3: asm-vm-proxy/02-install-docker: check failed' >&2; exit 1; fi

# == asm-vm-proxy/03-env-file: Write the proxy env file (0600) [article §3 启动参数 (launch parameters)]
# note: the article saves the file with default permissions; it holds ACCESS_KEY_SECRET, so it is made 0600 before it is written
# on vm1
rc=0; on_vm1 <<'MESHBOOK_EOF' || rc=$?
f=/opt/asm_vm_proxy/asm_vm_proxy.env
if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
mode=$(stat -c %a "$f")
if [ "$mode" != 600 ]; then echo "$f has mode $mode, not 600"; exit 10; fi
if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != $'***sha256 of the desired file***' ]; then echo "$f differs from the inputs"; exit 10; fi
echo "$f is up to date (mode 600)"
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm1 <<'MESHBOOK_EOF'
install -d -m 0755 /opt/asm_vm_proxy
printf '%s\n' ACCESS_KEY_ID=LTAI5tExampleKeyId $'***ACCESS_KEY_SECRET***' REGION=cn-hangzhou MESH_ID=c0a1b2c3d4e5f60718293a4b5c6d7e8f9 NS=vm-mesh SA=vm-sa POD_NAME=vm-pod | write_file /opt/asm_vm_proxy/asm_vm_proxy.env 0600
echo 'wrote' /opt/asm_vm_proxy/asm_vm_proxy.env '(mode 600)'
MESHBOOK_EOF
on_vm1 <<'MESHBOOK_EOF'
test "$(stat -c %a /opt/asm_vm_proxy/asm_vm_proxy.env)" = 600
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm1: asm-vm-proxy/03-env-file: check failed' >&2; exit 1; fi
# on vm2
rc=0; on_vm2 <<'MESHBOOK_EOF' || rc=$?
f=/opt/asm_vm_proxy/asm_vm_proxy.env
if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
mode=$(stat -c %a "$f")
if [ "$mode" != 600 ]; then echo "$f has mode $mode, not 600"; exit 10; fi
if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != $'***sha256 of the desired file***' ]; then echo "$f differs from the inputs"; exit 10; fi
echo "$f is up to date (mode 600)"
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm2 <<'MESHBOOK_EOF'
install -d -m 0755 /opt/asm_vm_proxy
printf '%s\n' ACCESS_KEY_ID=LTAI5tExampleKeyId $'***ACCESS_KEY_SECRET***' REGION=cn-hangzhou MESH_ID=c0a1b2c3d4e5f60718293a4b5c6d7e8f9 NS=vm-mesh SA=vm-sa POD_NAME=vm-pod | write_file /opt/asm_vm_proxy/asm_vm_proxy.env 0600
echo 'wrote' /opt/asm_vm_proxy/asm_vm_proxy.env '(mode 600)'
MESHBOOK_EOF
on_vm2 <<'MESHBOOK_EOF'
test "$(stat -c %a /opt/asm_vm_proxy/asm_vm_proxy.env)" = 600
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm2: asm-vm-proxy/03-env-file: check failed' >&2; exit 1; fi
# on vm3
rc=0; on_vm3 <<'MESHBOOK_EOF' || rc=$?
f=/opt/asm_vm_proxy/asm_vm_proxy.env
if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
mode=$(stat -c %a "$f")
if [ "$mode" != 600 ]; then echo "$f has mode $mode, not 600"; exit 10; fi
if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != $'***sha256 of the desired file***' ]; then echo "$f differs from the inputs"; exit 10; fi
echo "$f is up to date (mode 600)"
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm3 <<'MESHBOOK_EOF'
install -d -m 0755 /opt/asm_vm_proxy
printf '%s\n' ACCESS_KEY_ID=LTAI5tExampleKeyId $'***ACCESS_KEY_SECRET***' REGION=cn-hangzhou MESH_ID=c0a1b2c3d4e5f60718293a4b5c6d7e8f9 NS=vm-mesh SA=vm-sa POD_NAME=vm-pod | write_file /opt/asm_vm_proxy/asm_vm_proxy.env 0600
echo 'wrote' /opt/asm_vm_proxy/asm_vm_proxy.env '(mode 600)'
MESHBOOK_EOF
on_vm3 <<'MESHBOOK_EOF'
test "$(stat -c %a /opt/asm_vm_proxy/asm_vm_proxy.env)" = 600
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm3: asm-vm-proxy/03-env-file: check failed' >&2; exit 1; fi

# == asm-vm-proxy/04-run-proxy: Run the asm_vm_proxy container [article §4 镜像 (image), §5 启动 (start)]
# note: the change is verified when the proxy answers ready on its status port 15020, not just when the container runs
# note: the article's start script uses the old image path registry.cn-beijing.aliyuncs.com/asm_repo/asm_vm_proxy; §4's regional, versioned path is used
# on vm1
rc=0; on_vm1 <<'MESHBOOK_EOF' || rc=$?
cur=$(docker inspect -f '{{.Config.Image}} {{.State.Running}}' asm_vm_proxy 2>/dev/null || true)
if [ "$cur" = $'registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun true' ]; then echo 'asm_vm_proxy runs' registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun; exit 0; fi
echo "asm_vm_proxy: ${cur:-no container}"
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm1 <<'MESHBOOK_EOF'
docker rm -f asm_vm_proxy >/dev/null 2>&1 || true
mkdir -p /var/log/istio
docker run -d --name=asm_vm_proxy --network=host --restart=always \
  --env-file /opt/asm_vm_proxy/asm_vm_proxy.env --cap-add=NET_ADMIN -v /var/log/istio:/var/log/istio registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun
MESHBOOK_EOF
on_vm1 <<'MESHBOOK_EOF'
test "$(docker inspect -f '{{.State.Running}}' asm_vm_proxy)" = true
for ((i = 0; i < 60; i++)); do
  if { exec 3<>/dev/tcp/127.0.0.1/15020; } 2>/dev/null; then
    printf 'GET /healthz/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; st=""; IFS= read -r -t 5 st <&3 || true; exec 3<&-
    case $st in *' 200 '*) exit 0 ;; esac
  fi
  sleep 0.5
done
echo 'asm_vm_proxy runs but its status port 15020 did not answer ready within 30 s' >&2
exit 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm1: asm-vm-proxy/04-run-proxy: check failed' >&2; exit 1; fi
# on vm2
rc=0; on_vm2 <<'MESHBOOK_EOF' || rc=$?
cur=$(docker inspect -f '{{.Config.Image}} {{.State.Running}}' asm_vm_proxy 2>/dev/null || true)
if [ "$cur" = $'registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun true' ]; then echo 'asm_vm_proxy runs' registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun; exit 0; fi
echo "asm_vm_proxy: ${cur:-no container}"
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm2 <<'MESHBOOK_EOF'
docker rm -f asm_vm_proxy >/dev/null 2>&1 || true
mkdir -p /var/log/istio
docker run -d --name=asm_vm_proxy --network=host --restart=always \
  --env-file /opt/asm_vm_proxy/asm_vm_proxy.env --cap-add=NET_ADMIN -v /var/log/istio:/var/log/istio registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun
MESHBOOK_EOF
on_vm2 <<'MESHBOOK_EOF'
test "$(docker inspect -f '{{.State.Running}}' asm_vm_proxy)" = true
for ((i = 0; i < 60; i++)); do
  if { exec 3<>/dev/tcp/127.0.0.1/15020; } 2>/dev/null; then
    printf 'GET /healthz/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; st=""; IFS= read -r -t 5 st <&3 || true; exec 3<&-
    case $st in *' 200 '*) exit 0 ;; esac
  fi
  sleep 0.5
done
echo 'asm_vm_proxy runs but its status port 15020 did not answer ready within 30 s' >&2
exit 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm2: asm-vm-proxy/04-run-proxy: check failed' >&2; exit 1; fi
# on vm3
rc=0; on_vm3 <<'MESHBOOK_EOF' || rc=$?
cur=$(docker inspect -f '{{.Config.Image}} {{.State.Running}}' asm_vm_proxy 2>/dev/null || true)
if [ "$cur" = $'registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun true' ]; then echo 'asm_vm_proxy runs' registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun; exit 0; fi
echo "asm_vm_proxy: ${cur:-no container}"
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm3 <<'MESHBOOK_EOF'
docker rm -f asm_vm_proxy >/dev/null 2>&1 || true
mkdir -p /var/log/istio
docker run -d --name=asm_vm_proxy --network=host --restart=always \
  --env-file /opt/asm_vm_proxy/asm_vm_proxy.env --cap-add=NET_ADMIN -v /var/log/istio:/var/log/istio registry.cn-hangzhou.aliyuncs.com/acs/asm-vm-proxy:v1.6.9-aliyun
MESHBOOK_EOF
on_vm3 <<'MESHBOOK_EOF'
test "$(docker inspect -f '{{.State.Running}}' asm_vm_proxy)" = true
for ((i = 0; i < 60; i++)); do
  if { exec 3<>/dev/tcp/127.0.0.1/15020; } 2>/dev/null; then
    printf 'GET /healthz/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; st=""; IFS= read -r -t 5 st <&3 || true; exec 3<&-
    case $st in *' 200 '*) exit 0 ;; esac
  fi
  sleep 0.5
done
echo 'asm_vm_proxy runs but its status port 15020 did not answer ready within 30 s' >&2
exit 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm3: asm-vm-proxy/04-run-proxy: check failed' >&2; exit 1; fi

# == asm-vm-proxy/05-check-interception: Check the iptables interception rules [article §5 检测 (check)]
# note: reads `iptables-save -t nat` rather than grepping `iptables -t nat -L -v`
# on vm1
on_vm1 <<'MESHBOOK_EOF'
out=$(iptables-save -t nat 2>/dev/null || true)
if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(iptables-legacy-save -t nat); fi
printf '%s\n' "$out"
MESHBOOK_EOF
# on vm2
on_vm2 <<'MESHBOOK_EOF'
out=$(iptables-save -t nat 2>/dev/null || true)
if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(iptables-legacy-save -t nat); fi
printf '%s\n' "$out"
MESHBOOK_EOF
# on vm3
on_vm3 <<'MESHBOOK_EOF'
out=$(iptables-save -t nat 2>/dev/null || true)
if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(iptables-legacy-save -t nat); fi
printf '%s\n' "$out"
MESHBOOK_EOF

# == asm-vm-proxy/06-diagnostics: Diagnostics (only where a step failed) [article §5 诊断 (diagnose)]
# note: `docker exec -it` needs a TTY: run without -it
# runs only on a VM where an earlier step failed: see meshbook rebuild

# == asm-vm-proxy/07-tracing: Point zipkin.istio-system at the zipkin SLB in /etc/hosts [article §6 链路追踪 (tracing)]
# note: one atomic rewrite of /etc/hosts instead of the article's sed -i + cat >>
# on vm1
rc=0; on_vm1 <<'MESHBOOK_EOF' || rc=$?
n=$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true)
if [ "$n" = 1 ] && grep -qxF $'172.19.0.20 zipkin.istio-system' /etc/hosts; then echo $'/etc/hosts has: 172.19.0.20 zipkin.istio-system'; exit 0; fi
echo "/etc/hosts has $n zipkin.istio-system line(s), wants exactly:" $'172.19.0.20 zipkin.istio-system'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm1 <<'MESHBOOK_EOF'
{ grep -vE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true; printf '%s\n' $'172.19.0.20 zipkin.istio-system'; } | write_file /etc/hosts 0644
MESHBOOK_EOF
on_vm1 <<'MESHBOOK_EOF'
test "$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts)" = 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm1: asm-vm-proxy/07-tracing: check failed' >&2; exit 1; fi
# on vm2
rc=0; on_vm2 <<'MESHBOOK_EOF' || rc=$?
n=$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true)
if [ "$n" = 1 ] && grep -qxF $'172.19.0.20 zipkin.istio-system' /etc/hosts; then echo $'/etc/hosts has: 172.19.0.20 zipkin.istio-system'; exit 0; fi
echo "/etc/hosts has $n zipkin.istio-system line(s), wants exactly:" $'172.19.0.20 zipkin.istio-system'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm2 <<'MESHBOOK_EOF'
{ grep -vE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true; printf '%s\n' $'172.19.0.20 zipkin.istio-system'; } | write_file /etc/hosts 0644
MESHBOOK_EOF
on_vm2 <<'MESHBOOK_EOF'
test "$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts)" = 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm2: asm-vm-proxy/07-tracing: check failed' >&2; exit 1; fi
# on vm3
rc=0; on_vm3 <<'MESHBOOK_EOF' || rc=$?
n=$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true)
if [ "$n" = 1 ] && grep -qxF $'172.19.0.20 zipkin.istio-system' /etc/hosts; then echo $'/etc/hosts has: 172.19.0.20 zipkin.istio-system'; exit 0; fi
echo "/etc/hosts has $n zipkin.istio-system line(s), wants exactly:" $'172.19.0.20 zipkin.istio-system'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_vm3 <<'MESHBOOK_EOF'
{ grep -vE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts || true; printf '%s\n' $'172.19.0.20 zipkin.istio-system'; } | write_file /etc/hosts 0644
MESHBOOK_EOF
on_vm3 <<'MESHBOOK_EOF'
test "$(grep -cE $'(^|[[:space:]])zipkin\\.istio-system([[:space:]]|$)' /etc/hosts)" = 1
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'vm3: asm-vm-proxy/07-tracing: check failed' >&2; exit 1; fi
