// kubeadm-nginmesh's proxy_init in the lab, for real in a pod of the lab cluster.
//
// The article's pod: an app container, nginmesh's NGINX sidecar on PROXY_PORT running as
// PROXY_UID, and the proxy_init container that runs prepare_proxy.sh in the pod's network
// namespace. The lab has no container runtime, so:
//   the pod        Deployment nginmesh-lab/nginmesh-lab (the hello app on 8080, not
//                  injected: the lab's own sidecar would add its own ISTIO_* chains) and
//                  its Service, applied by the lab (kubectl apply through the lab cluster)
//   the sidecar    NGINX started inside the pod (kubectl exec), workers as PROXY_UID,
//                  listening on PROXY_PORT: a request redirected from outside the pod goes to
//                  the app at 127.0.0.1 (inbound), one redirected from inside the pod to its
//                  Host (outbound); every answer carries `X-Nginmesh-Proxy: <direction> ...`,
//                  a header only this proxy adds
//   proxy_init     the rules of 12-proxy-init (proxy-init-rules.ts: prepare_proxy.sh -p -u -i,
//                  corrected), compared and applied the way that step does, inside the pod
//                  (kubectl exec runs in the pod's namespaces, like an init container with
//                  NET_ADMIN)
// 13-check-interception reads the rules and then proves them with real requests from inside
// the pod (`probeScript`, judged by `judgeRequests`).
import { probe, mutate, Raw, type Script } from '../../scripts/engine/sh.ts';
import type { LocalCmd } from '../../scripts/engine/types.ts';
import { proxyInitRules, sLine, type ProxyInitSpec } from '../../scripts/kubeadm-nginmesh/proxy-init-rules.ts';

export const POD_NS = 'nginmesh-lab';
export const POD_APP = 'nginmesh-lab';
export const APP_PORT = 8080;
/** Where the proxy's files live inside the pod (its private /run). */
const DIR = '/run/meshlab/nginmesh';
const GATEWAY_HOST = 'istio-ingressgateway.istio-system.svc.cluster.local';
const SELF_HOST = `${POD_APP}.${POD_NS}.svc.cluster.local`;
const STATUS_PATH = ':15021/healthz/ready';

export const POD_MANIFEST = `# meshbook lab: the pod kubeadm-nginmesh's proxy_init runs in (lab/stand-ins/nginmesh-pod.ts)
apiVersion: v1
kind: Namespace
metadata:
  name: ${POD_NS}
  labels:
    istio-injection: disabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${POD_APP}
  namespace: ${POD_NS}
  labels:
    app: ${POD_APP}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${POD_APP}
  template:
    metadata:
      labels:
        app: ${POD_APP}
    spec:
      containers:
        - name: app
          image: registry.cn-beijing.aliyuncs.com/asm_repo/http_springboot_v1:1.0.0
          ports:
            - name: http
              containerPort: ${APP_PORT}
---
apiVersion: v1
kind: Service
metadata:
  name: ${POD_APP}
  namespace: ${POD_NS}
spec:
  selector:
    app: ${POD_APP}
  ports:
    - name: http
      port: ${APP_PORT}
      targetPort: ${APP_PORT}
`;

/** The NGINX configuration of the lab's stand-in for the nginmesh sidecar. */
export function proxyConf(s: ProxyInitSpec, user: string): string {
  const header = `"$nginmesh_direction via ${s.port} (nginmesh proxy, uid ${s.uid})"`;
  return [
    `# meshbook lab: stand-in for the nginmesh sidecar (lab/stand-ins/nginmesh-pod.ts)`,
    `user ${user};`,
    'worker_processes 1;',
    `pid ${DIR}/nginx.pid;`,
    `error_log ${DIR}/error.log;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    // REDIRECT from OUTPUT rewrites the destination to 127.0.0.1; from PREROUTING to the pod's address
    '  map $server_addr $nginmesh_direction { 127.0.0.1 outbound; default inbound; }',
    `  map $server_addr $nginmesh_upstream { 127.0.0.1 $http_host; default 127.0.0.1:${APP_PORT}; }`,
    '  server {',
    `    listen ${s.port};`,
    '    location / {',
    '      proxy_pass http://$nginmesh_upstream;',
    '      proxy_set_header Host $http_host;',
    `      add_header X-Nginmesh-Proxy ${header} always;`,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

const PRELUDE = 'set -euo pipefail\n';
const IPT = new Raw('iptables -w -t nat');

/** Shell that finds (or adds) the proxy's user in the pod's private /etc, and says which pod this is. */
function podHeader(s: ProxyInitSpec): Script {
  return probe`
    pod=$(hostname); ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
    where="pod ${POD_NS}/$pod ($ip)"
    user=$(getent passwd ${String(s.uid)} | cut -d: -f1 || true)
    group=$(getent group ${String(s.uid)} | cut -d: -f1 || true)
  `;
}

/** 12-proxy-init's check, inside the pod: proxy running with this configuration, then the
 *  step's own comparisons of the two chains and the two jumps. Exit 0 or 10. */
export function checkScript(s: ProxyInitSpec): string {
  const { redirect, output, jumps } = proxyInitRules(s);
  const want = (rules: typeof output) => rules.map(sLine).join('\n');
  return (
    PRELUDE +
    probe`
      ${podHeader(s)}
      echo "lab: the pod for proxy_init is $where, a pod of the lab cluster (Deployment ${POD_NS}/${POD_APP})"
      conf=${proxyConf(s, '@USER@')}
      pid=$(cat ${`${DIR}/nginx.pid`} 2>/dev/null || true)
      if [ -z "$user" ] || [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != nginx ]; then
        echo ${`the proxy (the lab's stand-in for the nginmesh sidecar, port ${s.port}) is not running`}; exit 10
      fi
      if [ "$(cat ${`${DIR}/nginx.conf`})" != "$(printf '%s' "\${conf//@USER@/$user $group}")" ]; then echo 'the proxy configuration differs'; exit 10; fi
      same() { [ "$(${IPT} -S "$1" 2>/dev/null | grep '^-A' || true)" = "$2" ]; }
      if ! same ISTIO_REDIRECT ${want(redirect)}; then echo "ISTIO_REDIRECT in $where differs from prepare_proxy.sh's"; exit 10; fi
      if ! same ISTIO_OUTPUT ${want(output)}; then echo "ISTIO_OUTPUT in $where differs from prepare_proxy.sh's"; exit 10; fi
      ${IPT} -C ${jumps[0].chain} ${jumps[0].args} 2>/dev/null || { echo 'PREROUTING does not jump to ISTIO_REDIRECT'; exit 10; }
      ${IPT} -C ${jumps[1].chain} ${jumps[1].args} 2>/dev/null || { echo 'OUTPUT does not jump to ISTIO_OUTPUT'; exit 10; }
      echo "proxy_init rules in place in $where; the proxy listens on ${String(s.port)} as uid ${String(s.uid)}"
    `.text
  );
}

/** 12-proxy-init's change, inside the pod: the proxy's user and NGINX (started or
 *  reloaded), then the rules as the step applies them (chains rewritten whole, jumps once). */
export function applyScript(s: ProxyInitSpec): string {
  const { redirect, output, jumps } = proxyInitRules(s);
  const uid = String(s.uid);
  return (
    PRELUDE +
    mutate`
      ${podHeader(s)}
      if [ -z "$user" ]; then
        user=nginmesh-proxy
        echo "nginmesh-proxy:x:${uid}:${uid}:nginmesh proxy (meshbook lab):/nonexistent:/usr/sbin/nologin" >>/etc/passwd
      fi
      if [ -z "$group" ]; then group=nginmesh-proxy; echo "nginmesh-proxy:x:${uid}:" >>/etc/group; fi
      conf=${proxyConf(s, '@USER@')}
      mkdir -p ${DIR}
      printf '%s' "\${conf//@USER@/$user $group}" >${`${DIR}/nginx.conf`}
      nginx -t -q -p ${DIR} -c ${`${DIR}/nginx.conf`} -e ${`${DIR}/error.log`}
      pid=$(cat ${`${DIR}/nginx.pid`} 2>/dev/null || true)
      if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then kill -HUP "$pid"; what=reloaded
      else nginx -p ${DIR} -c ${`${DIR}/nginx.conf`} -e ${`${DIR}/error.log`} </dev/null >>${`${DIR}/start.log`} 2>&1; what=started; fi
      for _ in $(seq 50); do [ -n "$(ss -Hltn "sport = :${String(s.port)}")" ] && break; sleep 0.1; done
      echo "lab: the proxy (stand-in for the nginmesh sidecar) $what in $where: port ${String(s.port)}, workers as $user (uid ${uid})"
      ${IPT} -N ISTIO_REDIRECT 2>/dev/null || ${IPT} -F ISTIO_REDIRECT
      ${IPT} -N ISTIO_OUTPUT 2>/dev/null || ${IPT} -F ISTIO_OUTPUT
      ${IPT} -A ${redirect[0].chain} ${redirect[0].args}
      ${new Raw(output.map((r) => mutate`${IPT} -A ${r.chain} ${r.args}`.text).join('\n'))}
      ${IPT} -C ${jumps[0].chain} ${jumps[0].args} 2>/dev/null || ${IPT} -A ${jumps[0].chain} ${jumps[0].args}
      ${IPT} -C ${jumps[1].chain} ${jumps[1].args} 2>/dev/null || ${IPT} -A ${jumps[1].chain} ${jumps[1].args}
      echo ${`installed prepare_proxy.sh -p ${s.port} -u ${uid}${s.cidrs.length ? ` -i ${s.cidrs.join(',')}` : ''} rules in`} "$where"
    `.text
  );
}

/** The marker 13's probe prints before its request lines (after `iptables-save -t nat`). */
export const REQUESTS_MARK = '--- meshbook lab requests';

/** 13-check-interception's probe, inside the pod: the NAT table (what the step parses), then
 *  three real requests, one line each: `REQ <label> <user> <url> <http code> <X-Nginmesh-Proxy
 *  values joined by '|', or '-'>`. */
export function probeScript(s: ProxyInitSpec): string {
  const uid = String(s.uid);
  return (
    PRELUDE +
    probe`
      iptables-save -t nat
      echo ${REQUESTS_MARK}
      addr() { getent hosts "$1" | awk '{print $1; exit}'; }
      self=$(addr ${SELF_HOST}); gw=$(addr ${GATEWAY_HOST})
      req() { # label user url (headers on stdout: the proxy's user cannot write root's files)
        local out code via
        local curl=(curl -sS -m 5 -D - -w '\nCODE %{http_code}' "$3")
        if [ "$2" = root ]; then out=$("\${curl[@]}" 2>/dev/null || true)
        else out=$(setpriv --reuid ${uid} --regid ${uid} --clear-groups "\${curl[@]}" 2>/dev/null || true); fi
        code=$(tr -d '\r' <<<"$out" | sed -n 's/^CODE //p')
        via=$(tr -d '\r' <<<"$out" | sed -n 's/^[Xx]-[Nn]ginmesh-[Pp]roxy: //p' | paste -sd'|' -)
        echo "REQ $1 $2 $3 \${code:-000} \${via:--}"
        echo "BODY $1 $(tr -d '\r' <<<"$out" | grep -m1 '^Hello ' || true)"
      }
      req inbound ${uid} "http://$self:${String(APP_PORT)}/hello/nginmesh"
      req bypass ${uid} "http://$gw${STATUS_PATH}"
      req outbound root "http://$gw${STATUS_PATH}"
    `.text
  );
}

export interface Req {
  label: string;
  user: string;
  url: string;
  code: string;
  via: string[];
  /** the app's answer (`Hello <msg>(<pod ip>)`), when it answered */
  body?: string;
}

export function parseRequests(stdout: string): Req[] {
  const at = stdout.indexOf(REQUESTS_MARK);
  if (at < 0) return [];
  const lines = stdout.slice(at).split('\n');
  const body = (label: string) =>
    lines.find((l) => l.startsWith(`BODY ${label} `))?.slice(`BODY ${label} `.length) || undefined;
  return lines
    .filter((l) => l.startsWith('REQ '))
    .map((l) => {
      const [, label, user, url, code, ...via] = l.split(' ');
      const v = via.join(' ');
      return { label, user, url, code, via: v === '-' ? [] : v.split('|'), body: body(label) };
    });
}

/** What the three requests prove, one line each, and whether all three came out as they must. */
export function judgeRequests(reqs: Req[], s: ProxyInitSpec): { ok: boolean; lines: string[] } {
  const by = (l: string) => reqs.find((r) => r.label === l);
  const show = (r: Req) =>
    `${r.user === 'root' ? 'root' : `uid ${r.user}`} GET ${r.url} -> ${r.code}, ` +
    (r.via.length ? `X-Nginmesh-Proxy: ${r.via.join(' | ')}` : 'no X-Nginmesh-Proxy header') +
    (r.body ? `, the app answered "${r.body}"` : '');
  const checks: Array<[string, (r: Req) => boolean, string, string]> = [
    [
      'inbound',
      (r) => r.code === '200' && r.via.length === 1 && r.via[0].startsWith('inbound') && !!r.body,
      "the pod's app port (reached through its Service, back into the pod) is answered through the proxy",
      `expected 200 from the app with one X-Nginmesh-Proxy: inbound (PREROUTING -> ${s.port})`,
    ],
    [
      'bypass',
      (r) => r.code === '200' && !r.via.length,
      `the proxy's own user (uid ${s.uid}) is not looped back`,
      `expected 200 without the proxy's header (-m owner --uid-owner ${s.uid} -j RETURN)`,
    ],
    [
      'outbound',
      (r) => r.code === '200' && r.via.length === 1 && r.via[0].startsWith('outbound'),
      'any other user is redirected to the proxy',
      `expected 200 with one X-Nginmesh-Proxy: outbound (ISTIO_OUTPUT -> ${s.port})`,
    ],
  ];
  const lines: string[] = [];
  let ok = true;
  for (const [label, good, what, expected] of checks) {
    const r = by(label);
    if (r && good(r)) lines.push(`proven: ${what}: ${show(r)}`);
    else {
      ok = false;
      lines.push(`error: not proven: ${what}: ${r ? show(r) : 'no request was made'}; ${expected}`);
    }
  }
  return { ok, lines };
}

const kube = (...args: string[]) => ['kubectl', ...args];
const inPod = (script: string, kind: LocalCmd['kind'], more: Partial<LocalCmd> = {}): LocalCmd => ({
  kind,
  argv: kube('-n', POD_NS, 'exec', '-i', `deploy/${POD_APP}`, '--', 'bash', '-s'),
  stdin: script,
  stdinLabel: 'a script run inside the pod (lab/stand-ins/nginmesh-pod.ts)',
  ...more,
});

/** 12-proxy-init's commands in the lab: check; apply the pod, then the proxy and the rules. */
export function proxyInitOnRunner(s: ProxyInitSpec) {
  return {
    // exit 1: no such Deployment yet (kubectl exec's NotFound)
    check: inPod(checkScript(s), 'probe', { changeCodes: [10, 1] }),
    apply: [
      {
        kind: 'mutate' as const,
        argv: kube('apply', '-f', '-'),
        stdin: POD_MANIFEST,
        stdinLabel: 'lab/stand-ins/nginmesh-pod.ts POD_MANIFEST',
      },
      inPod(applyScript(s), 'mutate'),
    ],
    verify: inPod(checkScript(s), 'probe'),
  };
}

/** 13-check-interception's probe in the lab. */
export const checkOnRunner = (s: ProxyInitSpec): LocalCmd => inPod(probeScript(s), 'probe');
