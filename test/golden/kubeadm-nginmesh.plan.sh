#!/usr/bin/env bash
# meshbook plan for envs/kubeadm-nginmesh.env.example: the same commands a rebuild runs, for review.
# Secrets are masked as ***NAME***: this script does not carry them.
# A check exits 0 when nothing needs to change and 10 when the change must run.
set -euo pipefail
MESHBOOK_PRELUDE=$'set -euo pipefail\nexport LC_ALL=C\n# write_file DEST MODE [CONTENT]: CONTENT (or stdin) -> DEST through a temp file in the\n# same directory and a rename, so DEST is never left half-written. The temp file is\n# created exclusively (noclobber: O_EXCL, so nothing planted there is followed), with no\n# more than MODE from the start (umask), then chmod MODE (a directory\'s default ACL\n# overrides the umask), all before any content. It never outlives a failure: the work\n# runs in a subshell whose EXIT trap removes the temp file once it was created (a failed\n# chmod, write or rename - an immutable DEST, a mount point, a directory in the way: mv -T\n# never moves into it - and HUP/INT/TERM, e.g. a stopped run), so a secret is never left\n# in a second file; DEST stays as it was. No mktemp: a fleet runs this on every VM.\n# CONTENT as an argument spares a cat.\nwrite_file() {\n  local dest=$1 mode=$((8#$2)) tmp="$1.meshbook.$$.$RANDOM$RANDOM" mask\n  printf -v mask \'%04o\' $((0777 & ~mode))\n  (\n    made=\n    trap \'[ -z "$made" ] || rm -f -- "$tmp"\' EXIT\n    trap \'exit 129\' HUP; trap \'exit 130\' INT; trap \'exit 143\' TERM\n    umask "$mask"; set -C\n    : > "$tmp" || exit 1\n    made=1\n    chmod "$2" "$tmp" || exit 1\n    if [ $# -ge 3 ]; then printf \'%s\' "$3" >| "$tmp"; else cat >| "$tmp"; fi || exit 1\n    if ! mv -fT -- "$tmp" "$dest"; then\n      echo "write_file: $dest was not replaced (left as it was, temporary copy removed)" >&2\n      exit 1\n    fi\n    made=\n  )\n}\n# nap SECONDS: sleep without a process per tick (a fleet polls on every VM): a read that\n# times out on a pipe this shell holds both ends of, opened once per shell (one fork, no\n# exec; bash >= 4.1). nap_close before starting a daemon, which would inherit the pipe.\n__mb_nap_fd=\nnap() {\n  [ -n "$__mb_nap_fd" ] || exec {__mb_nap_fd}<> <(:)\n  read -r -t "$1" -u "$__mb_nap_fd" _ || true\n}\nnap_close() {\n  if [ -n "$__mb_nap_fd" ]; then exec {__mb_nap_fd}>&-; __mb_nap_fd=; fi\n}'
on_kube_1() { ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.meshbook/known_hosts -o GlobalKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPath=/tmp/meshbook-0/cm/cc1fb3cfdc/f4404bbf31c70197 -o ControlPersist=120 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -p 22 -i /root/.ssh/id_ed25519 -o IdentitiesOnly=yes root@10.12.5.15 bash -c $'\'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi\'' < <(printf '%s\n' "$MESHBOOK_PRELUDE"; cat); }
on_kube_2() { ssh -T -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=.meshbook/known_hosts -o GlobalKnownHostsFile=/dev/null -o ControlMaster=auto -o ControlPath=/tmp/meshbook-0/cm/cc1fb3cfdc/e4e3f49fccbae5d8 -o ControlPersist=120 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR -p 22 -i /root/.ssh/id_ed25519 -o IdentitiesOnly=yes root@10.12.5.31 bash -c $'\'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi\'' < <(printf '%s\n' "$MESHBOOK_PRELUDE"; cat); }

# == kubeadm-nginmesh/01-preflight: Preflight: SSH, root, kernel and distro of every cluster machine [article 安装Kubernetes Cluster (install a Kubernetes cluster)]
# note: the article installs kubelet/kubeadm/kubectl from apt.kubernetes.io, which was shut down in 2024: install them from pkgs.k8s.io (one repository per minor version) before this runbook
# note: docker is not a Kubernetes container runtime any more (dockershim was removed in 1.24): use containerd or CRI-O
# note: roles: the VM labelled role: control-plane (else the first VM) runs kubeadm init; the others join as workers
# on kube-1
on_kube_1 <<'MESHBOOK_EOF'
echo "uid=$(id -u)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
echo '--- /etc/os-release'
cat /etc/os-release
MESHBOOK_EOF
# on kube-2
on_kube_2 <<'MESHBOOK_EOF'
echo "uid=$(id -u)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
echo '--- /etc/os-release'
cat /etc/os-release
MESHBOOK_EOF

# == kubeadm-nginmesh/02-kubeadm-config: Write the kubeadm config (/etc/kubernetes/meshbook-kubeadm.yaml) on the control plane [article 使用kubeadmin安装kubernetes cluster (kubeadm-conf)]
# note: the article's kubeadm.k8s.io/v1alpha1 MasterConfiguration is gone: kubeadm.k8s.io/v1beta4 (kubeadm >= 1.31), apiServer.extraArgs as a list of {name, value}
# note: the Initializers admission plugin the article enables was removed in Kubernetes 1.14: sidecar injection is a MutatingAdmissionWebhook today (enabled by default); the deprecated PersistentVolumeLabel is left out and --admission-control is --enable-admission-plugins
# note: the config is validated (apiVersion/kind, CIDRs, extraArgs shape, version) before it is written
# on kube-1
rc=0; on_kube_1 <<'MESHBOOK_EOF' || rc=$?
f=/etc/kubernetes/meshbook-kubeadm.yaml
if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != 395a672fb43e700e991fffab42c0ad1196e4c74f0635792db4688b556fc795aa ]; then echo "$f differs from the inputs"; exit 10; fi
echo "$f is up to date"
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_kube_1 <<'MESHBOOK_EOF'
install -d -m 0755 /etc/kubernetes
printf '%s\n' \
  $'# kubeadm init --config: the control plane of the article\'s cluster, in today\'s config API' \
  $'# (kubeadm.k8s.io/v1beta4, kubeadm 1.31 and later). The article\'s v1alpha1' \
  $'# MasterConfiguration and its apiServerExtraArgs map are long gone; in v1beta4' \
  $'# apiServer.extraArgs is a list of {name, value}. The article turned on the Initializers' \
  $'# admission plugin for nginmesh\'s sidecar injection: Initializers were removed in' \
  $'# Kubernetes 1.14 and injection is a MutatingAdmissionWebhook today (on by default), so' \
  $'# the list below is the article\'s without Initializers and the deprecated' \
  $'# PersistentVolumeLabel, and --admission-control (deprecated) is --enable-admission-plugins.' \
  $'apiVersion: kubeadm.k8s.io/v1beta4' \
  $'kind: InitConfiguration' \
  localAPIEndpoint: \
  $'  advertiseAddress: 10.12.5.15' \
  $'  bindPort: 6443' \
  --- \
  $'apiVersion: kubeadm.k8s.io/v1beta4' \
  $'kind: ClusterConfiguration' \
  $'kubernetesVersion: v1.31.2' \
  networking: \
  $'  podSubnet: 172.18.0.0/16' \
  $'  serviceSubnet: 172.19.0.0/20' \
  apiServer: \
  $'  extraArgs:' \
  $'    - name: enable-admission-plugins' \
  $'      value: NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota' \
  | write_file /etc/kubernetes/meshbook-kubeadm.yaml 0644
echo 'wrote' /etc/kubernetes/meshbook-kubeadm.yaml
MESHBOOK_EOF
on_kube_1 <<'MESHBOOK_EOF'
test "$(sha256sum < /etc/kubernetes/meshbook-kubeadm.yaml | cut -d' ' -f1)" = 395a672fb43e700e991fffab42c0ad1196e4c74f0635792db4688b556fc795aa
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'kube-1: kubeadm-nginmesh/02-kubeadm-config: check failed' >&2; exit 1; fi
# on kube-2
echo $'kube-2: skipped: a worker: the kubeadm config lives on the control plane kube-1'

# == kubeadm-nginmesh/03-kubeadm-dry-run: kubeadm init --dry-run on the control plane [article 使用kubeadmin安装kubernetes cluster (kubeadm init --dry-run)]
# note: the article's text spells the flag with an en dash (U+2013) instead of --: pasted, kubeadm would not see it; the command is --dry-run
# note: skipped once /etc/kubernetes/admin.conf exists (the control plane is already initialized)
# on kube-1
on_kube_1 <<'MESHBOOK_EOF'
if [ -f /etc/kubernetes/admin.conf ]; then echo $'already initialized (/etc/kubernetes/admin.conf exists): no dry run needed'; exit 0; fi
rc=0; out=$(kubeadm init --config /etc/kubernetes/meshbook-kubeadm.yaml --dry-run 2>&1) || rc=$?
if [ "$rc" != 0 ]; then
  grep -E '\[ERROR|^error' <<<"$out" >&2 || echo "kubeadm init --dry-run failed (exit $rc); run it on the VM to see its full output" >&2
  exit "$rc"
fi
grep -m1 'Finished dry-running successfully' <<<"$out" || { echo 'kubeadm did not report "Finished dry-running successfully"' >&2; exit 1; }
MESHBOOK_EOF
# on kube-2
echo $'kube-2: skipped: a worker: kubeadm init runs on the control plane kube-1'

# == kubeadm-nginmesh/04-kubeadm-init: kubeadm init on the control plane [article 使用kubeadmin安装kubernetes cluster (kubeadm init)]
# note: the output goes to a 0600 log on the VM and --skip-token-print keeps the bootstrap token out of it; the workers get a fresh token in step 07
# note: the article's note that kubeadm makes a single control plane is dated (kubeadm join --control-plane adds more today); this runbook makes one, as the article does
# on kube-1
rc=0; on_kube_1 <<'MESHBOOK_EOF' || rc=$?
if [ -f /etc/kubernetes/admin.conf ]; then echo $'the control plane is initialized (/etc/kubernetes/admin.conf exists)'; exit 0; fi
echo $'not initialized yet (no /etc/kubernetes/admin.conf)'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_kube_1 <<'MESHBOOK_EOF'
rc=0; ( umask 077; kubeadm init --config /etc/kubernetes/meshbook-kubeadm.yaml --skip-token-print > /var/log/meshbook-kubeadm-init.log 2>&1 ) || rc=$?
if [ "$rc" != 0 ]; then
  grep -E '\[ERROR|^error' /var/log/meshbook-kubeadm-init.log >&2 || true
  echo $'kubeadm init failed; its output is in /var/log/meshbook-kubeadm-init.log on this VM' "(exit $rc)" >&2
  exit "$rc"
fi
grep -m1 'initialized successfully' /var/log/meshbook-kubeadm-init.log || true
MESHBOOK_EOF
on_kube_1 <<'MESHBOOK_EOF'
test -f /etc/kubernetes/admin.conf
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'kube-1: kubeadm-nginmesh/04-kubeadm-init: check failed' >&2; exit 1; fi
# on kube-2
echo $'kube-2: skipped: a worker: kubeadm init runs on the control plane kube-1'

# == kubeadm-nginmesh/05-kubeconfig: Save the control plane's admin kubeconfig for the cluster steps [article 使用kubectl 命令检查master节点安装结果 (kubectl on the master)]
# note: the article runs kubectl on the master; meshbook runs it here, with the admin kubeconfig saved 0600 as KUBECONFIG_FILE (or your KUBE_CONTEXT)
# on kube-1
on_kube_1 <<'MESHBOOK_EOF'
cat /etc/kubernetes/admin.conf
MESHBOOK_EOF
# on kube-2
echo $'kube-2: skipped: a worker: the admin kubeconfig is on the control plane kube-1'

# == kubeadm-nginmesh/06-join-status: Which workers still have to join [article 在每台工作节点上执行kubeadm join (join the workers)]
# on kube-1
echo $'kube-1: skipped: the control plane does not join'
# on kube-2
on_kube_2 <<'MESHBOOK_EOF'
if [ -f /etc/kubernetes/kubelet.conf ]; then echo joined; else echo 'not joined'; fi
MESHBOOK_EOF

# == kubeadm-nginmesh/07-join-token: A bootstrap token for the workers (kept secret, in memory) [article 在每台工作节点上执行kubeadm join (the join command)]
# note: the article copies the join line (with its token) by hand; here it is made on demand (TTL 15 min), kept in memory as a secret, and sent to the workers only on ssh stdin
# note: under --dry-run no token is made (making one is a change); step 08 then shows what it would send
# on kube-1
on_kube_1 <<'MESHBOOK_EOF'
kubeadm token create --print-join-command --ttl 15m --description $'meshbook kubeadm-nginmesh: workers join'
MESHBOOK_EOF
# on kube-2
echo $'kube-2: skipped: a worker: the token is made on the control plane kube-1'

# == kubeadm-nginmesh/08-join-workers: kubeadm join on every worker (token via a 0600 file, never argv) [article 在每台工作节点上执行kubeadm join (join the workers)]
# note: the article pastes the token on kubeadm's command line (process list, shell history): here it goes into a 0600 JoinConfiguration file written from ssh stdin and removed after the join
# on kube-1
echo $'kube-1: skipped: the control plane does not join'
# on kube-2
rc=0; on_kube_2 <<'MESHBOOK_EOF' || rc=$?
if [ -f /etc/kubernetes/kubelet.conf ]; then echo $'joined (/etc/kubernetes/kubelet.conf exists)'; exit 0; fi
echo 'not joined yet'
exit 10
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_kube_2 <<'MESHBOOK_EOF'
install -d -m 0755 /etc/kubernetes
trap $'rm -f /etc/kubernetes/meshbook-join.yaml' EXIT
printf '%s\n' \
  $'# kubeadm join --config: a worker joins with a bootstrap token. The token is written into' \
  $'# this file (0600, removed after the join) on the worker through ssh\'s stdin, so it is in' \
  $'# no process\'s argument list; the article pastes it on the command line instead.' \
  $'apiVersion: kubeadm.k8s.io/v1beta4' \
  $'kind: JoinConfiguration' \
  discovery: \
  $'  bootstrapToken:' \
  $'    apiServerEndpoint: 10.12.5.15:6443' \
  $'***JOIN_TOKEN***' \
  $'    caCertHashes:' \
  $'      - sha256:<from the control plane, step 07>' \
  | write_file /etc/kubernetes/meshbook-join.yaml 0600
if ! grep -qE '^ +token: [a-z0-9]{6}\.[a-z0-9]{16}$' /etc/kubernetes/meshbook-join.yaml; then
  echo 'no join token in this run: step 07-join-token did not run or failed on the control plane; rerun from it' >&2
  exit 1
fi
rc=0; ( umask 077; kubeadm join --config /etc/kubernetes/meshbook-join.yaml > /var/log/meshbook-kubeadm-join.log 2>&1 ) || rc=$?
if [ "$rc" != 0 ]; then
  grep -E '\[ERROR|^error' /var/log/meshbook-kubeadm-join.log >&2 || true
  echo $'kubeadm join failed; its output is in /var/log/meshbook-kubeadm-join.log on this VM' "(exit $rc)" >&2
  exit "$rc"
fi
echo $'kube-2 joined the cluster'
MESHBOOK_EOF
on_kube_2 <<'MESHBOOK_EOF'
test -f /etc/kubernetes/kubelet.conf
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'kube-2: kubeadm-nginmesh/08-join-workers: check failed' >&2; exit 1; fi

# == kubeadm-nginmesh/09-pod-network: Pod network: Calico [article 安装Pod网络 Calico (pod network)]
# note: the article's docs.projectcalico.org v2.6 manifest URL is gone: the versioned manifest from Calico's repository is applied (CALICO_VERSION)
# note: Calico reads the pod CIDR from the kubeadm configuration (POD_CIDR): CALICO_IPV4POOL_CIDR needs no edit
# on cluster
rc=0; kubectl --kubeconfig .meshbook/kubeadm-nginmesh/admin.conf diff -f https://raw.githubusercontent.com/projectcalico/calico/v3.28.2/manifests/calico.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl --kubeconfig .meshbook/kubeadm-nginmesh/admin.conf apply -f https://raw.githubusercontent.com/projectcalico/calico/v3.28.2/manifests/calico.yaml
kubectl --kubeconfig .meshbook/kubeadm-nginmesh/admin.conf -n kube-system rollout status daemonset/calico-node --timeout=300s
elif [ "$rc" != 0 ]; then echo $'cluster: kubeadm-nginmesh/09-pod-network: check failed' >&2; exit 1; fi

# == kubeadm-nginmesh/10-nodes-ready: Every node Ready [article 检查cluster中的节点情况 (kubectl get nodes)]
# note: bounded wait (300 s) instead of reading `kubectl get nodes` by eye
# on cluster
kubectl --kubeconfig .meshbook/kubeadm-nginmesh/admin.conf wait --for=condition=Ready node --all --timeout=300s

# == kubeadm-nginmesh/11-nodeport: Reach the ingress at NODE_IP:NodePort when there is no LoadBalancer [article 访问Bookinfo: 节点IP:Nodeport (NodePort access)]
# note: the article's istio-ingress Service is istio-ingressgateway today; nginmesh is archived (0.3, Istio 0.2/0.3): install the mesh with Istio itself (bookinfo runbook)
# note: the node IP is INGRESS_NODE_IP when set, else the control plane's private IP (every node answers on a NodePort)
# on cluster
kubectl --kubeconfig .meshbook/kubeadm-nginmesh/admin.conf -n istio-system get service istio-ingressgateway -o json

# == kubeadm-nginmesh/12-proxy-init: proxy_init's interception rules (prepare_proxy.sh) in a pod network namespace [article 查看自动注入的sidecar: proxy_init / prepare_proxy.sh]
# note: prepare_proxy.sh runs in a pod's network namespace: on the VM's own namespace its PREROUTING redirect would capture SSH too, so the rules go into the namespace PROXY_NETNS
# note: rerunnable: the ISTIO_REDIRECT and ISTIO_OUTPUT chains are rewritten whole, the jumps from PREROUTING and OUTPUT are added only when missing (prepare_proxy.sh appends duplicates on a rerun)
# note: sidecar injection itself is a MutatingAdmissionWebhook today (the Initializers the article relies on were removed in Kubernetes 1.14)
# on kube-1
rc=0; on_kube_1 <<'MESHBOOK_EOF' || rc=$?
if [ ! -e /run/netns/nginmesh-pod ]; then echo $'network namespace nginmesh-pod is absent'; exit 10; fi
same() { [ "$(ip netns exec nginmesh-pod iptables -w -t nat -S "$1" 2>/dev/null | grep '^-A' || true)" = "$2" ]; }
if ! same ISTIO_REDIRECT $'-A ISTIO_REDIRECT -p tcp -m comment --comment "istio/redirect-to-envoy-port" -j REDIRECT --to-ports 15001'; then echo $'ISTIO_REDIRECT in nginmesh-pod differs from prepare_proxy.sh\'s'; exit 10; fi
if ! same ISTIO_OUTPUT $'-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m comment --comment "istio/redirect-implicit-loopback" -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment "istio/bypass-envoy" -j RETURN\n-A ISTIO_OUTPUT -d 127.0.0.1/32 -m comment --comment "istio/bypass-explicit-loopback" -j RETURN\n-A ISTIO_OUTPUT -d 172.19.0.0/20 -m comment --comment "istio/redirect-ip-range-172.19.0.0/20" -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -m comment --comment "istio/bypass-default-outbound" -j RETURN'; then echo $'ISTIO_OUTPUT in nginmesh-pod differs from prepare_proxy.sh\'s'; exit 10; fi
ip netns exec nginmesh-pod iptables -w -t nat -C PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT 2>/dev/null || { echo 'PREROUTING does not jump to ISTIO_REDIRECT'; exit 10; }
ip netns exec nginmesh-pod iptables -w -t nat -C OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT 2>/dev/null || { echo 'OUTPUT does not jump to ISTIO_OUTPUT'; exit 10; }
echo $'proxy_init rules in place in network namespace nginmesh-pod'
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_kube_1 <<'MESHBOOK_EOF'
[ -e /run/netns/nginmesh-pod ] || ip netns add nginmesh-pod
ip netns exec nginmesh-pod iptables -w -t nat -N ISTIO_REDIRECT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -F ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -N ISTIO_OUTPUT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -F ISTIO_OUTPUT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_REDIRECT -p tcp -m comment --comment istio/redirect-to-envoy-port -j REDIRECT --to-ports 15001
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT $'!' -d 127.0.0.1/32 -o lo -m comment --comment istio/redirect-implicit-loopback -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment istio/bypass-envoy -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -m comment --comment istio/bypass-explicit-loopback -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -d 172.19.0.0/20 -m comment --comment istio/redirect-ip-range-172.19.0.0/20 -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -m comment --comment istio/bypass-default-outbound -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -C PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -A PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -C OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -A OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT
echo $'installed prepare_proxy.sh -p 15001 -u 1337 -i 172.19.0.0/20 rules in network namespace nginmesh-pod'
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'kube-1: kubeadm-nginmesh/12-proxy-init: check failed' >&2; exit 1; fi
# on kube-2
rc=0; on_kube_2 <<'MESHBOOK_EOF' || rc=$?
if [ ! -e /run/netns/nginmesh-pod ]; then echo $'network namespace nginmesh-pod is absent'; exit 10; fi
same() { [ "$(ip netns exec nginmesh-pod iptables -w -t nat -S "$1" 2>/dev/null | grep '^-A' || true)" = "$2" ]; }
if ! same ISTIO_REDIRECT $'-A ISTIO_REDIRECT -p tcp -m comment --comment "istio/redirect-to-envoy-port" -j REDIRECT --to-ports 15001'; then echo $'ISTIO_REDIRECT in nginmesh-pod differs from prepare_proxy.sh\'s'; exit 10; fi
if ! same ISTIO_OUTPUT $'-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m comment --comment "istio/redirect-implicit-loopback" -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment "istio/bypass-envoy" -j RETURN\n-A ISTIO_OUTPUT -d 127.0.0.1/32 -m comment --comment "istio/bypass-explicit-loopback" -j RETURN\n-A ISTIO_OUTPUT -d 172.19.0.0/20 -m comment --comment "istio/redirect-ip-range-172.19.0.0/20" -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -m comment --comment "istio/bypass-default-outbound" -j RETURN'; then echo $'ISTIO_OUTPUT in nginmesh-pod differs from prepare_proxy.sh\'s'; exit 10; fi
ip netns exec nginmesh-pod iptables -w -t nat -C PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT 2>/dev/null || { echo 'PREROUTING does not jump to ISTIO_REDIRECT'; exit 10; }
ip netns exec nginmesh-pod iptables -w -t nat -C OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT 2>/dev/null || { echo 'OUTPUT does not jump to ISTIO_OUTPUT'; exit 10; }
echo $'proxy_init rules in place in network namespace nginmesh-pod'
MESHBOOK_EOF
if [ "$rc" = 10 ]; then
on_kube_2 <<'MESHBOOK_EOF'
[ -e /run/netns/nginmesh-pod ] || ip netns add nginmesh-pod
ip netns exec nginmesh-pod iptables -w -t nat -N ISTIO_REDIRECT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -F ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -N ISTIO_OUTPUT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -F ISTIO_OUTPUT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_REDIRECT -p tcp -m comment --comment istio/redirect-to-envoy-port -j REDIRECT --to-ports 15001
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT $'!' -d 127.0.0.1/32 -o lo -m comment --comment istio/redirect-implicit-loopback -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment istio/bypass-envoy -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -m comment --comment istio/bypass-explicit-loopback -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -d 172.19.0.0/20 -m comment --comment istio/redirect-ip-range-172.19.0.0/20 -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -A ISTIO_OUTPUT -m comment --comment istio/bypass-default-outbound -j RETURN
ip netns exec nginmesh-pod iptables -w -t nat -C PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -A PREROUTING -m comment --comment istio/install-istio-prerouting -j ISTIO_REDIRECT
ip netns exec nginmesh-pod iptables -w -t nat -C OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT 2>/dev/null || ip netns exec nginmesh-pod iptables -w -t nat -A OUTPUT -p tcp -m comment --comment istio/install-istio-output -j ISTIO_OUTPUT
echo $'installed prepare_proxy.sh -p 15001 -u 1337 -i 172.19.0.0/20 rules in network namespace nginmesh-pod'
MESHBOOK_EOF
elif [ "$rc" != 0 ]; then echo $'kube-2: kubeadm-nginmesh/12-proxy-init: check failed' >&2; exit 1; fi

# == kubeadm-nginmesh/13-check-interception: Check the interception rules, one by one and in order [article 查看自动注入的sidecar: proxy_init / prepare_proxy.sh]
# note: parses `iptables-save -t nat` of the pod network namespace and reports every rule prepare_proxy.sh installs, in its order
# on kube-1
on_kube_1 <<'MESHBOOK_EOF'
if [ ! -e /run/netns/nginmesh-pod ]; then echo $'network namespace nginmesh-pod is absent (step 12-proxy-init)' >&2; exit 1; fi
out=$(ip netns exec nginmesh-pod iptables-save -t nat 2>/dev/null || true)
if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(ip netns exec nginmesh-pod iptables-legacy-save -t nat); fi
printf '%s\n' "$out"
MESHBOOK_EOF
# on kube-2
on_kube_2 <<'MESHBOOK_EOF'
if [ ! -e /run/netns/nginmesh-pod ]; then echo $'network namespace nginmesh-pod is absent (step 12-proxy-init)' >&2; exit 1; fi
out=$(ip netns exec nginmesh-pod iptables-save -t nat 2>/dev/null || true)
if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(ip netns exec nginmesh-pod iptables-legacy-save -t nat); fi
printf '%s\n' "$out"
MESHBOOK_EOF
