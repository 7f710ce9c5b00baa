#!/usr/bin/env bash
# meshbook plan for envs/bookinfo.env.example: the same commands a rebuild runs, for review.
# Secrets are masked as ***NAME***: this script does not carry them.
# A check exits 0 when nothing needs to change and 10 when the change must run.
set -euo pipefail
MESHBOOK_PRELUDE=$'set -euo pipefail\nexport LC_ALL=C\n# write_file DEST MODE [CONTENT]: CONTENT (or stdin) -> DEST through a temp file in the\n# same directory and a rename, so DEST is never left half-written. The temp file is\n# created exclusively (noclobber: O_EXCL, so nothing planted there is followed), with no\n# more than MODE from the start (umask), then chmod MODE (a directory\'s default ACL\n# overrides the umask), all before any content. It never outlives a failure: the work\n# runs in a subshell whose EXIT trap removes the temp file once it was created (a failed\n# chmod, write or rename - an immutable DEST, a mount point, a directory in the way: mv -T\n# never moves into it - and HUP/INT/TERM, e.g. a stopped run), so a secret is never left\n# in a second file; DEST stays as it was. No mktemp: a fleet runs this on every VM.\n# CONTENT as an argument spares a cat.\nwrite_file() {\n  local dest=$1 mode=$((8#$2)) tmp="$1.meshbook.$$.$RANDOM$RANDOM" mask\n  printf -v mask \'%04o\' $((0777 & ~mode))\n  (\n    made=\n    trap \'[ -z "$made" ] || rm -f -- "$tmp"\' EXIT\n    trap \'exit 129\' HUP; trap \'exit 130\' INT; trap \'exit 143\' TERM\n    umask "$mask"; set -C\n    : > "$tmp" || exit 1\n    made=1\n    chmod "$2" "$tmp" || exit 1\n    if [ $# -ge 3 ]; then printf \'%s\' "$3" >| "$tmp"; else cat >| "$tmp"; fi || exit 1\n    if ! mv -fT -- "$tmp" "$dest"; then\n      echo "write_file: $dest was not replaced (left as it was, temporary copy removed)" >&2\n      exit 1\n    fi\n    made=\n  )\n}\n# nap SECONDS: sleep without a process per tick (a fleet polls on every VM): a read that\n# times out on a pipe this shell holds both ends of, opened once per shell (one fork, no\n# exec; bash >= 4.1). nap_close before starting a daemon, which would inherit the pipe.\n__mb_nap_fd=\nnap() {\n  [ -n "$__mb_nap_fd" ] || exec {__mb_nap_fd}<> <(:)\n  read -r -t "$1" -u "$__mb_nap_fd" _ || true\n}\nnap_close() {\n  if [ -n "$__mb_nap_fd" ]; then exec {__mb_nap_fd}>&-; __mb_nap_fd=; fi\n}'

# == bookinfo/01-istio-release: istioctl answers and the release samples in ISTIO_DIR are valid [article 下载 Istio (download Istio)]
# note: the article pipes https://istio.io/downloadIstio into sh: not done; unpack a release yourself and set ISTIO_DIR
# note: every sample file applied later is validated here first (file, object and field named on an error)
# on cluster
istioctl version --remote=false

# == bookinfo/02-install-istio: istioctl install --set profile=demo [article 安装 Istio (install Istio)]
# note: the demo profile is for trying Istio (high trace sampling, egress gateway); use default or minimal in production
# on cluster
rc=0; kubectl -n istio-system get deployment istiod || rc=$?
if [ "$rc" = 1 ]; then
istioctl install --set profile=demo -y
kubectl -n istio-system rollout status deployment/istiod --timeout=300s
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/02-install-istio: check failed' >&2; exit 1; fi

# == bookinfo/03-label-namespace: Label namespace default istio-injection=enabled [article 安装 Istio: 给命名空间添加标签 (label the namespace)]
# note: --overwrite: the label is set whatever value it had
# note: injection adds the istio-init container, which needs NET_ADMIN and NET_RAW to set up iptables in the pod, unless the istio-cni plugin is installed (the article checks ASK allows both)
# on cluster
rc=0; kubectl wait $'--for=jsonpath={.metadata.labels.istio-injection}=enabled' namespace/default --timeout=0s || rc=$?
if [ "$rc" = 1 ]; then
kubectl label namespace default istio-injection=enabled --overwrite
kubectl wait $'--for=jsonpath={.metadata.labels.istio-injection}=enabled' namespace/default --timeout=0s
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/03-label-namespace: check failed' >&2; exit 1; fi

# == bookinfo/04-deploy-bookinfo: Deploy Bookinfo [article 部署 Bookinfo 示例应用 (deploy Bookinfo)]
# note: the file is read from ISTIO_DIR and validated (file, object, field) before it is applied; `kubectl diff` first
# on cluster
rc=0; kubectl diff -n default -f /opt/istio-1.22.3/samples/bookinfo/platform/kube/bookinfo.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -n default -f /opt/istio-1.22.3/samples/bookinfo/platform/kube/bookinfo.yaml
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/04-deploy-bookinfo: check failed' >&2; exit 1; fi

# == bookinfo/05-wait-pods: Wait for the Bookinfo pods to be Ready (300 s at most) [article 检查 Pod 已就绪 (pods ready)]
# note: bounded: kubectl wait --timeout=300s rather than watching kubectl get pods
# on cluster
kubectl wait --for=condition=Ready pod --all -n default --timeout=300s

# == bookinfo/06-pods-2-of-2: Every Bookinfo pod READY 2/2 (app + sidecar) [article 检查 Pod 已就绪 (READY 2/2)]
# note: each pod needs the istio-init container (NET_ADMIN, NET_RAW) to start unless istio-cni is used
# on cluster
kubectl get pods -n default -o json

# == bookinfo/07-productpage-title: productpage answers inside the mesh (title "Simple Bookstore App") [article 确保网页服务正常 (productpage title)]
# note: kubectl exec deploy/ratings-v1 instead of the nested $(kubectl get pod ...) of the article
# on cluster
kubectl exec -n default deploy/ratings-v1 -c ratings -- curl -sS --max-time 10 productpage:9080/productpage

# == bookinfo/08-gateway: Bookinfo gateway and its VirtualService [article 把应用关联到 Istio 网关 (bookinfo-gateway)]
# note: validated (Istio schemas, unknown fields) before it is applied
# on cluster
rc=0; kubectl diff -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/bookinfo-gateway.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/bookinfo-gateway.yaml
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/08-gateway: check failed' >&2; exit 1; fi

# == bookinfo/09-analyze: istioctl analyze finds no issues [article 确保配置文件没有问题 (istioctl analyze)]
# note: -n default stated explicitly: the article relies on the current namespace
# on cluster
istioctl analyze -n default

# == bookinfo/10-ingress: INGRESS_HOST, INGRESS_PORT, SECURE_INGRESS_PORT, GATEWAY_URL [article 确定入站 IP 和端口 (ingress host and ports)]
# note: one read of the Service as JSON instead of three jsonpath calls; without a LoadBalancer address the NodePorts on a node IP (INGRESS_NODE_IP, else a Bookinfo pod's node)
# note: the article never shows how GATEWAY_URL is set: it is INGRESS_HOST:INGRESS_PORT
# on cluster
kubectl -n istio-system get service istio-ingressgateway -o json

# == bookinfo/11-addons: Addons (Kiali, Prometheus, Grafana, Jaeger) and the Kiali rollout [article 安装 Kiali 和其他插件 (addons)]
# note: rollout status is bounded (300 s); the article waits without a limit
# note: `istioctl dashboard kiali` blocks and opens a browser: run it yourself afterwards
# on cluster
rc=0; kubectl diff -f /opt/istio-1.22.3/samples/addons || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -f /opt/istio-1.22.3/samples/addons
kubectl rollout status deployment/kiali -n istio-system --timeout=300s
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/11-addons: check failed' >&2; exit 1; fi

# == bookinfo/12-destination-rules: DestinationRules with the version subsets [article 在目标规则中定义可用的版本 (destination rules)]
# on cluster
rc=0; kubectl diff -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/destination-rule-all.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/destination-rule-all.yaml
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/12-destination-rules: check failed' >&2; exit 1; fi

# == bookinfo/13-route-all-v1: Route all traffic to v1 [article 路由所有流量到 v1 版本 (all traffic to v1)]
# on cluster
rc=0; kubectl diff -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/virtual-service-all-v1.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/virtual-service-all-v1.yaml
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/13-route-all-v1: check failed' >&2; exit 1; fi

# == bookinfo/14-route-jason: Route end-user jason to reviews v2 [article 启用基于用户的路由 (end-user=jason)]
# on cluster
rc=0; kubectl diff -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml || rc=$?
if [ "$rc" = 1 ]; then
kubectl apply -n default -f /opt/istio-1.22.3/samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml
elif [ "$rc" != 0 ]; then echo $'cluster: bookinfo/14-route-jason: check failed' >&2; exit 1; fi

# == bookinfo/15-login-jason: Sign in to productpage as jason (session cookie) [article 以 jason 身份登录 (sign in as jason)]
# note: productpage sets end-user from its login session, not from an incoming header: a request carrying `end-user: jason` to the gateway is routed like anyone's; signing in is what the article's browser does
# on cluster
curl -sS --max-time 10 -o /dev/null -D - -H $'Referer: http://<GATEWAY_URL from step 10-ingress>/productpage' --data-urlencode username=jason --data-urlencode passwd=jason $'http://<GATEWAY_URL from step 10-ingress>/login'

# == bookinfo/16-verify-jason: Signed in as jason: 100 % reviews v2 (black stars) [article 以 jason 身份登录, 刷新浏览器 (jason sees v2)]
# note: statistical check instead of refreshing a browser: 73 requests (-n auto for 100/0/0), any page from v1 or v3 fails it
# on cluster
node bin/meshbook.js verify traffic --url $'http://<GATEWAY_URL from step 10-ingress>/productpage' --header $'Cookie: session=<from step 15-login-jason>' --expect $'v1=0,v2=100,v3=0' --classify $'v2=color="black"|text-black-500,v3=color="red"|gap-x-1 text-red-500,v1=Reviewer1' --max-body 65536 -n auto -c 2 --json

# == bookinfo/17-verify-others: Everyone else: 100 % reviews v1 (no stars) [article 以其他用户身份登录 (others see v1)]
# note: same statistics as step 16, without the session cookie
# on cluster
node bin/meshbook.js verify traffic --url $'http://<GATEWAY_URL from step 10-ingress>/productpage' --expect $'v1=100,v2=0,v3=0' --classify $'v2=color="black"|text-black-500,v3=color="red"|gap-x-1 text-red-500,v1=Reviewer1' --max-body 65536 -n auto -c 2 --json
