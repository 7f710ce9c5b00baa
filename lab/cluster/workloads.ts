// meshbook lab cluster: what a Deployment's pod runs in the lab (pure). The lab has no
// container engine; it runs the apps it brings, chosen by the container's image:
//
//   .../http_springboot_vN[:TAG]                        article 4's hello app (vm/hello/hello.mjs)
//                                                       with VERSION=vN
//   .../examples-bookinfo-<service>-vN[:TAG]            the lab's Bookinfo (lab/bookinfo/bookinfo.mjs)
//     (productpage-v1, details-v1, ratings-v1,          with SERVICE=<service>, VERSION=vN
//      reviews-v1|v2|v3)
//
// PORT is the containerPort (or the container's PORT env), the container's env is passed on.
// Anything else is "not in lab" with the reason. What the pod spec asks that the lab does not
// do (volumes, securityContext, initContainers, valueFrom) is a warning.
import path from 'node:path';
import { REPO_ROOT } from '../config.ts';
import type { KObject } from './kinds.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export const HELLO_APP = path.join(REPO_ROOT, 'vm', 'hello', 'hello.mjs');
export const BOOKINFO_APP = path.join(REPO_ROOT, 'lab', 'bookinfo', 'bookinfo.mjs');

const TAG = '(?::[A-Za-z0-9_.-]+)?(?:@sha256:[0-9a-f]{64})?$';
const HELLO_RE = new RegExp(`(?:^|/)http_springboot_(v[123])${TAG}`);
const BOOKINFO_RE = new RegExp(`(?:^|/)examples-bookinfo-(productpage|details|ratings|reviews)-(v[123])${TAG}`);
const BOOKINFO_VERSIONS: Record<string, string[]> = {
  productpage: ['v1'],
  details: ['v1'],
  ratings: ['v1'],
  reviews: ['v1', 'v2', 'v3'],
};

/** The lab app for an image: its script and the env that selects it, or undefined. */
export function imageApp(image: string): { app: string; env: Record<string, string> } | undefined {
  const h = HELLO_RE.exec(image);
  if (h) return { app: HELLO_APP, env: { VERSION: h[1] } };
  const b = BOOKINFO_RE.exec(image);
  if (b && BOOKINFO_VERSIONS[b[1]].includes(b[2])) return { app: BOOKINFO_APP, env: { SERVICE: b[1], VERSION: b[2] } };
  return undefined;
}

export type Workload =
  | {
      ok: true;
      container: string;
      containers: string[];
      /** absolute path of the script the pod's node runs */
      app: string;
      version: string;
      /** the container's env plus what selects the app (VERSION, SERVICE) and PORT */
      env: Record<string, string>;
      appPort: number;
      ports: Array<{ name?: string; containerPort: number }>;
      warnings: string[];
    }
  | { ok: false; reason: string };

/** Pod-spec fields the lab does not carry out, as one warning (harmless for the lab's apps). */
function ignoredFields(where: string, spec: Untyped, c: Untyped): string[] {
  const ignored: string[] = [];
  const volumes = ((spec.volumes ?? []) as Untyped[]).map((v) => v?.name).filter(Boolean);
  if (volumes.length || c.volumeMounts?.length) ignored.push(`volumes (${volumes.join(', ') || 'mounts'})`);
  if (spec.securityContext || c.securityContext) ignored.push('securityContext');
  if (!ignored.length) return [];
  return [`${where}: ${ignored.join(' and ')} not applied by the lab (its apps write no files and run as root)`];
}

/** What the lab runs for a Deployment's pod template, or why it cannot. */
export function deploymentWorkload(d: KObject): Workload {
  const where = `deployment ${d.metadata.namespace ?? 'default'}/${d.metadata.name}`;
  const spec = d.spec?.template?.spec ?? {};
  const containers = ((spec.containers ?? []) as Untyped[]).filter((c) => c?.name !== 'istio-proxy');
  if (!containers.length) return { ok: false, reason: `${where}: no containers` };
  const other = containers.filter((c) => !imageApp(String(c?.image ?? '')));
  if (other.length) {
    return {
      ok: false,
      reason:
        `${where}: image ${other.map((c) => c.image).join(', ')} is not in the lab: it runs ` +
        'no container engine, only the hello app for .../http_springboot_v1|v2|v3 images and the ' +
        "lab's Bookinfo for .../examples-bookinfo-{productpage,details,ratings}-v1 and reviews-v1|v2|v3",
    };
  }
  if (containers.length > 1)
    return {
      ok: false,
      reason: `${where}: ${containers.length} app containers in one pod are not in the lab (one app per pod)`,
    };
  const c = containers[0];
  const warnings: string[] = ignoredFields(where, spec, c);
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as Untyped[]) {
    if (typeof e?.name !== 'string') continue;
    if (e.value !== undefined) env[e.name] = String(e.value);
    else warnings.push(`${where}: env ${e.name} uses valueFrom, which the lab does not resolve (left unset)`);
  }
  if (spec.initContainers?.length) warnings.push(`${where}: initContainers are not run by the lab`);
  const ports = ((c.ports ?? []) as Untyped[])
    .filter((p) => Number.isInteger(Number(p?.containerPort)))
    .map((p) => ({ name: p.name as string | undefined, containerPort: Number(p.containerPort) }));
  const appPort = env.PORT && /^\d+$/.test(env.PORT) ? Number(env.PORT) : (ports[0]?.containerPort ?? 8001);
  const app = imageApp(String(c.image))!;
  return {
    ok: true,
    container: String(c.name ?? 'app'),
    containers: containers.map((x) => String(x.name)),
    app: app.app,
    version: app.env.VERSION,
    env: { ...env, ...app.env, PORT: String(appPort) },
    appPort,
    ports,
    warnings,
  };
}

/** Is sidecar injection on for a new pod (namespace label, pod label/annotation)? */
export function injects(namespaceLabels: Record<string, string> | undefined, template: Untyped): boolean {
  const podSays =
    template?.metadata?.labels?.['sidecar.istio.io/inject'] ??
    template?.metadata?.annotations?.['sidecar.istio.io/inject'];
  const nsl = namespaceLabels ?? {};
  if (nsl['istio-injection'] === 'disabled') return false;
  if (podSays === 'false') return false;
  if (nsl['istio-injection'] === 'enabled' || 'istio.io/rev' in nsl) return true;
  return podSays === 'true';
}
