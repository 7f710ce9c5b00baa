// hello2-vs as the cluster has it: the canary reads the weights it starts from off the applied
// VirtualService (not the env file's WEIGHTS: someone may have moved them since the rebuild),
// and applies each step as that same object with only the weights changed: everything else a
// user added to it (retries, timeouts, other routes) is kept. Every command goes through the
// cluster provider the rebuild uses (kubectl on a real cluster; the lab's in the lab).
import { stringify } from 'yaml';
import { kubectl, mutateCmd, probeCmd } from '../engine/local.ts';
import { validateObject } from '../engine/manifests.ts';
import type { ClusterProvider, LocalCmd } from '../engine/types.ts';
import type { Untyped } from '../engine/untyped.ts';
import { VERSIONS, ns, type Weights } from '../traffic-shift/common.ts';

export const VS_NAME = 'hello2-vs';
export const HELLO2 = 'hello2-svc';
const TIMEOUT_MS = 60_000;

export class CanaryError extends Error {}

/** Is `host` hello2-svc (short, namespaced or fully qualified)? */
const isHello2 = (host: unknown, namespace: string) =>
  typeof host === 'string' &&
  [HELLO2, `${HELLO2}.${namespace}`, `${HELLO2}.${namespace}.svc`, `${HELLO2}.${namespace}.svc.cluster.local`].includes(
    host,
  );

/** The index of the http route that splits hello2 over its subsets. */
function splitRoute(vs: Untyped, namespace: string): number {
  const http: Untyped[] = vs?.spec?.http ?? [];
  const i = http.findIndex((h) =>
    (h?.route ?? []).some((r: Untyped) => isHello2(r?.destination?.host, namespace) && r?.destination?.subset),
  );
  if (i < 0)
    throw new CanaryError(
      `VirtualService ${namespace}/${VS_NAME} has no http route over hello2-svc's subsets; ` +
        'apply the runbook first: meshbook rebuild traffic-shift --env FILE',
    );
  return i;
}

/** The weights of the split route (a subset it does not list: 0; one destination without weight: 100). */
export function weightsOfVs(vs: Untyped, namespace: string): Weights {
  const route: Untyped[] = vs.spec.http[splitRoute(vs, namespace)].route;
  const w: Weights = { v1: 0, v2: 0, v3: 0 };
  for (const r of route) {
    const s = r?.destination?.subset;
    if (!(VERSIONS as string[]).includes(s))
      throw new CanaryError(
        `VirtualService ${namespace}/${VS_NAME} routes to subset ${JSON.stringify(s)}; ` +
          `the canary knows ${VERSIONS.join(', ')} (hello2-dr's subsets)`,
      );
    w[s as keyof Weights] += r.weight ?? (route.length === 1 ? 100 : 0);
  }
  const sum = VERSIONS.reduce((a, v) => a + w[v], 0);
  if (sum !== 100) throw new CanaryError(`VirtualService ${namespace}/${VS_NAME}: the weights sum to ${sum}, not 100`);
  return w;
}

/** The object to apply: the live one's identity and spec, with the split route's weights set. */
export function withWeights(vs: Untyped, namespace: string, w: Weights): Untyped {
  const spec = structuredClone(vs.spec);
  const http = spec.http[splitRoute(vs, namespace)];
  const host = http.route.find((r: Untyped) => isHello2(r?.destination?.host, namespace)).destination.host;
  const route: Untyped[] = [];
  for (const v of VERSIONS) {
    const old = http.route.find((r: Untyped) => r?.destination?.subset === v);
    route.push({ ...(old ?? { destination: { host, subset: v } }), weight: w[v] });
  }
  http.route = route;
  const annotations = { ...(vs.metadata?.annotations ?? {}) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  const obj = {
    apiVersion: vs.apiVersion,
    kind: 'VirtualService',
    metadata: {
      name: VS_NAME,
      namespace,
      ...(vs.metadata?.labels ? { labels: vs.metadata.labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec,
  };
  validateObject(`${VS_NAME} (canary)`, obj);
  return obj;
}

/** The commands, for the plan and the tests: what is sent, exactly. */
export const getCmd = (env: Record<string, string>): LocalCmd =>
  probeCmd(kubectl(env, 'get', 'virtualservice', VS_NAME, '-n', ns(env), '-o', 'json'));
export const applyCmd = (env: Record<string, string>, obj: Untyped, label: string): LocalCmd =>
  mutateCmd(kubectl(env, 'apply', '-f', '-'), { stdin: stringify(obj), stdinLabel: label });

/** The live hello2-vs. */
export async function readVs(cluster: ClusterProvider, env: Record<string, string>): Promise<Untyped> {
  const out = await cluster.run(getCmd(env), TIMEOUT_MS);
  if (out.code !== 0)
    throw new CanaryError(
      `kubectl get virtualservice ${VS_NAME} -n ${ns(env)} failed (exit ${out.code}): ` +
        `${(out.stderr || out.stdout).trim().split('\n').pop()}; has traffic-shift been rebuilt on this cluster?`,
    );
  try {
    return JSON.parse(out.stdout);
  } catch {
    throw new CanaryError(`kubectl get virtualservice ${VS_NAME} printed no JSON`);
  }
}

/** Apply hello2-vs with these weights (the rest of the live object unchanged). */
export async function applyWeights(
  cluster: ClusterProvider,
  env: Record<string, string>,
  live: Untyped,
  w: Weights,
): Promise<void> {
  const obj = withWeights(live, ns(env), w);
  const out = await cluster.run(applyCmd(env, obj, `${VS_NAME} with weights`), TIMEOUT_MS);
  if (out.code !== 0)
    throw new CanaryError(
      `kubectl apply of ${VS_NAME} failed (exit ${out.code}): ${(out.stderr || out.stdout).trim().split('\n').pop()}`,
    );
}
