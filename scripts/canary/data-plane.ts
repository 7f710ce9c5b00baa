// Did the data plane take the weights? A VirtualService that `kubectl apply` accepted is not
// yet a route: istiod has to push it and the proxies to load it (Argo Rollouts counted steps
// as done before that: argoproj/argo-rollouts #701, #3333). So after every apply the canary
// reads the weights back from the proxy that makes the split, and measures nothing until they
// are there; weights that never appear within the deadline fail the step.
//
// Which proxy: hello2-vs has no `gateways:`, so it binds to the mesh's sidecars, not to the
// ingress gateway (whose routes hold only gateway-vs, 8004 -> hello1-svc). The split is made
// by the caller of hello2-svc, hello1's sidecar: on a real mesh its route configuration,
// `istioctl proxy-config routes deploy/hello1-deploy -n NS --name 8001 -o json` (Envoy's
// RouteConfiguration: the hello2-svc virtual host's route with weightedClusters
// `outbound|8001|<subset>|hello2-svc.<ns>.svc.cluster.local`, or one `cluster` at 100 %;
// Istio leaves zero-weight destinations out). In the lab the same proxy is NGINX, and
// lab/cluster/data-plane.ts reads the configuration it has loaded.
import { istioctl, probeCmd } from '../engine/local.ts';
import type { ClusterProvider, LocalCmd } from '../engine/types.ts';
import type { Untyped } from '../engine/untyped.ts';
import { HELLO_PORT, VERSIONS, ns, type Weights } from '../traffic-shift/common.ts';
import { sameWeights, showWeights } from './weights.ts';

export type Read = { weights: Weights } | { problem: string };

export interface DataPlane {
  /** what is read, for the output */
  what: string;
  /** the command a real mesh is asked (for the plan and the JSON); none in the lab */
  command?: LocalCmd;
  read(): Promise<Read>;
}

export const HELLO1_DEPLOY = 'hello1-deploy';

export const routesCmd = (env: Record<string, string>): LocalCmd =>
  probeCmd(
    istioctl(
      env,
      'proxy-config',
      'routes',
      `deploy/${HELLO1_DEPLOY}`,
      '-n',
      ns(env),
      '--name',
      String(HELLO_PORT),
      '-o',
      'json',
    ),
  );

/** hello2's weights in Envoy route configuration JSON (istioctl proxy-config routes -o json). */
export function weightsOfEnvoyRoutes(json: Untyped, namespace: string): Read {
  const fqdn = `hello2-svc.${namespace}.svc.cluster.local`;
  const configs: Untyped[] = Array.isArray(json) ? json : [json];
  const vhost = configs
    .flatMap((c) => c?.virtualHosts ?? [])
    .find((v: Untyped) => typeof v?.name === 'string' && v.name.startsWith(`${fqdn}:`));
  if (!vhost) return { problem: `no virtual host for ${fqdn} in hello1's routes` };
  const subsetOf = (cluster: string) => {
    const m = /^outbound\|\d+\|([^|]*)\|(.+)$/.exec(cluster);
    return m && m[2] === fqdn ? m[1] : undefined;
  };
  for (const r of vhost.routes ?? []) {
    const wc: Untyped[] | undefined = r?.route?.weightedClusters?.clusters;
    const entries: Array<[string | undefined, number]> = wc
      ? wc.map((c) => [subsetOf(c.name), Number(c.weight ?? 0)])
      : r?.route?.cluster
        ? [[subsetOf(r.route.cluster), 100]]
        : [];
    if (!entries.length || entries.some(([s]) => !s)) continue;
    const w: Weights = { v1: 0, v2: 0, v3: 0 };
    for (const [s, n] of entries) {
      if (!(VERSIONS as string[]).includes(s!)) return { problem: `hello1's route sends to unknown subset ${s}` };
      w[s as keyof Weights] += n;
    }
    return { weights: w };
  }
  return { problem: `the ${fqdn} virtual host has no route over hello2's subsets` };
}

/** A real mesh: istioctl through the cluster provider. */
export function istioDataPlane(cluster: ClusterProvider, env: Record<string, string>): DataPlane {
  const command = routesCmd(env);
  return {
    what: `hello1's sidecar (istioctl proxy-config routes deploy/${HELLO1_DEPLOY})`,
    command,
    async read() {
      const out = await cluster.run(command, 30_000);
      if (out.code !== 0)
        return { problem: `istioctl exited ${out.code}: ${(out.stderr || out.stdout).trim().split('\n').pop()}` };
      try {
        return weightsOfEnvoyRoutes(JSON.parse(out.stdout), ns(env));
      } catch {
        return { problem: 'istioctl printed no JSON' };
      }
    },
  };
}

export interface Confirmation {
  ok: boolean;
  afterMs: number;
  /** what the data plane had last */
  seen?: Weights;
  problem?: string;
}

/** Read until the data plane has `want`, or the deadline passes. */
export async function confirmWeights(
  dp: DataPlane,
  want: Weights,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<Confirmation> {
  const t0 = Date.now();
  let last: Read = { problem: 'not read yet' };
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    last = await dp.read();
    if ('weights' in last && sameWeights(last.weights, want)) return { ok: true, afterMs: Date.now() - t0 };
    if (signal?.aborted || Date.now() - t0 + wait > deadlineMs) break;
    await new Promise((r) => setTimeout(r, wait));
  }
  const afterMs = Date.now() - t0;
  if ('weights' in last)
    return {
      ok: false,
      afterMs,
      seen: last.weights,
      problem: `${dp.what} still has ${showWeights(last.weights)} after ${(afterMs / 1000).toFixed(1)} s, not ${showWeights(want)}`,
    };
  return { ok: false, afterMs, problem: `${dp.what}: ${last.problem}` };
}
