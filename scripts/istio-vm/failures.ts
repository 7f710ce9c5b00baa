// The known failures of VM onboarding (the article's 相关故障处理), matched line
// by line against istio.log / istio.err.log / command output. Kept here, beside the
// engine's general list, because these carry whether the proxy can go on (fatal) and their
// order matters (a healthcheck line also holds a `connection refused`).
import type { KnownFailure } from '../engine/known-failures.ts';

export interface IstioFailure extends KnownFailure {
  /** false: a warning that does not stop the proxy (the article's healthcheck line). */
  fatal: boolean;
}

export const ISTIO_VM_FAILURES: IstioFailure[] = [
  // first: its line also holds a `dial tcp ...: connection refused` (to the app, not istiod)
  {
    symptom: /healthcheck failure threshold hit/,
    cause: 'the app on the VM is not listening on the WorkloadGroup probe port (the proxy itself is connected)',
    fix: 'start the app, or fix spec.probe in the WorkloadGroup (PROBE_PORT / PROBE_PATH)',
    fatal: false,
  },
  {
    symptom: /dial tcp [^ ]*:15012: connect: connection refused/,
    cause:
      'the VM reaches no istiod on port 15012: without a LoadBalancer the east-west gateway only listens on a NodePort',
    fix:
      'put the NodePort of 15012 (kubectl -n istio-system get svc istio-eastwestgateway) in mesh.yaml ' +
      'discoveryAddress and CA_ADDR (11-istiod-address does this), or pass --ingressIP; then restart istio',
    fatal: true,
  },
  {
    symptom: /dial tcp [^ ]*:\d+: connect: connection refused/,
    cause: 'nothing listens at the istiod address the VM uses (a stale NodePort or the wrong node IP)',
    fix:
      'compare discoveryAddress in /etc/istio/config/mesh and CA_ADDR in ' +
      '/var/lib/istio/envoy/cluster.env with the east-west gateway Service, rerun the runbook',
    fatal: true,
  },
  {
    symptom: /Could not auto-detect IP for istiod/,
    cause: 'istioctl found no address for the east-west gateway (its hosts file is empty)',
    fix:
      'pass --ingressIP (INGRESS_IP) to `istioctl x workload ' +
      'entry configure`, or let 11-istiod-address write the node IP',
    fatal: true,
  },
  {
    symptom: /client claims to be in cluster "[^"]*"/,
    cause: "--clusterID does not match the mesh's clusterName",
    fix: 'regenerate the files with --clusterID equal to the IstioOperator clusterName (CLUSTER_NAME is used for both)',
    fatal: true,
  },
  {
    symptom:
      /Token has expired|token is expired|istio-token: no such file|failed to read token|token file .*no such file/i,
    cause: "the VM's istio-token is missing or expired (istioctl's default lifetime is 1 h)",
    fix:
      'rerun the runbook: 09-workload-files regenerates the files (TOKEN_DURATION ' +
      'sets the lifetime) and 14-install-files copies the token again',
    fatal: true,
  },
  {
    symptom: /No resources found|no WorkloadEntry/i,
    cause: 'no WorkloadEntry was registered for the VM',
    fix:
      'apply the WorkloadGroup (08) and generate the files with ' +
      '--autoregister (09); check istiod logs for auto-registered WorkloadEntry',
    fatal: true,
  },
  {
    symptom: /i\/o timeout|context deadline exceeded/,
    cause:
      'the VM resolves the Service but its packets do not reach the ' +
      'pod/Service network: a route to the pod and Service CIDRs is missing',
    fix: 'route both CIDRs via a node (VM_ROUTES; the article needed one /16 where two /18s left the pod network out)',
    fatal: true,
  },
  {
    symptom: /Nexthop has invalid gateway|Network is unreachable/,
    cause: "NODE_IP is not on the VM's own network, so it cannot be the gateway of a route",
    fix: 'use the address of a node on the same subnet as the VM (the article: VM and nodes on 10.253.17.0/24)',
    fatal: true,
  },
];

export interface Match {
  line: string;
  failure: IstioFailure;
}

/** At most `width` characters of a long log line, around what matched. */
export function excerpt(line: string, re: RegExp, width = 200): string {
  if (line.length <= width) return line;
  const at = line.search(re);
  const start = Math.max(0, Math.min(at - 60, line.length - width));
  return `${start > 0 ? '...' : ''}${line.slice(start, start + width)}${start + width < line.length ? '...' : ''}`;
}

/** Every line of `text` that matches a known failure (the first matching entry per line). */
export function matchLines(text: string): Match[] {
  const out: Match[] = [];
  for (const line of text.split('\n')) {
    const f = ISTIO_VM_FAILURES.find((k) => k.symptom.test(line));
    if (f) out.push({ line: excerpt(line.trim(), f.symptom), failure: f });
  }
  return out;
}

/** One cause/fix per distinct failure, in the order first seen. */
export function explainText(text: string): IstioFailure[] {
  return [...new Set(matchLines(text).map((m) => m.failure))];
}

const GOOD = /SDS\s*:\s*PUSH|connected to (delta )?upstream XDS server/;

export interface LogVerdict {
  connected: boolean; // a good line after the last fatal failure
  good?: string; // the last good line
  failures: Match[]; // every known failure line
  ok: boolean;
}

/** Judge istio.log (plus istio.err.log): connected when a good line (`SDS: PUSH`,
 *  `connected to upstream XDS server`) comes after the last fatal known failure. */
export function judgeLog(text: string): LogVerdict {
  const lines = text.split('\n');
  let lastGood = -1;
  let lastFatal = -1;
  const failures: Match[] = [];
  lines.forEach((l, i) => {
    if (GOOD.test(l)) lastGood = i;
    const f = ISTIO_VM_FAILURES.find((k) => k.symptom.test(l));
    if (f) {
      failures.push({ line: excerpt(l.trim(), f.symptom), failure: f });
      if (f.fatal) lastFatal = i;
    }
  });
  const connected = lastGood > lastFatal;
  return {
    connected,
    good: lastGood >= 0 ? excerpt(lines[lastGood].trim(), GOOD) : undefined,
    failures,
    ok: connected,
  };
}
