// meshbook lab cluster: the kinds it knows, object keys and small object helpers (pure).
//
// The lab cluster stores every object of a known kind; its data plane acts on the kinds
// marked `acts` (see lab/cluster/mesh.ts). Pods, Endpoints and Nodes are not stored: they
// are made up from the running lab on `get`.
import type { Untyped } from '../../scripts/engine/untyped.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec?: Untyped;
  status?: Untyped;
  [k: string]: unknown;
}

export interface KindInfo {
  kind: string;
  group: string; // '' = core
  version: string; // preferred version (for made-up objects)
  plural: string;
  short: string[];
  namespaced: boolean;
  /** the data plane acts on it (else it is stored only) */
  acts?: boolean;
  /** made up from the running lab, never stored (apply is refused) */
  virtual?: boolean;
  /** refused by the lab cluster with this reason (apply, create, get) */
  notInLab?: string;
}

const NO_SECRETS =
  'the lab cluster keeps no Secrets (nothing in the lab reads ' +
  'them: there is no istiod), so they never land in its state files';

export const KINDS: KindInfo[] = [
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', short: ['ns'], namespaced: false, acts: true },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', short: ['po'], namespaced: true, virtual: true },
  { kind: 'Service', group: '', version: 'v1', plural: 'services', short: ['svc'], namespaced: true, acts: true },
  { kind: 'Endpoints', group: '', version: 'v1', plural: 'endpoints', short: ['ep'], namespaced: true, virtual: true },
  { kind: 'Node', group: '', version: 'v1', plural: 'nodes', short: ['no'], namespaced: false, virtual: true },
  { kind: 'ServiceAccount', group: '', version: 'v1', plural: 'serviceaccounts', short: ['sa'], namespaced: true },
  { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps', short: ['cm'], namespaced: true },
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', short: [], namespaced: true, notInLab: NO_SECRETS },
  {
    kind: 'Deployment',
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    short: ['deploy'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'Gateway',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'gateways',
    short: ['gw'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'VirtualService',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'virtualservices',
    short: ['vs'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'DestinationRule',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'destinationrules',
    short: ['dr'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'ServiceEntry',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'serviceentries',
    short: ['se'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'WorkloadEntry',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'workloadentries',
    short: ['we'],
    namespaced: true,
    acts: true,
  },
  {
    kind: 'WorkloadGroup',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'workloadgroups',
    short: ['wg'],
    namespaced: true,
  },
  {
    kind: 'Sidecar',
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'sidecars',
    short: [],
    namespaced: true,
  },
  {
    kind: 'EnvoyFilter',
    group: 'networking.istio.io',
    version: 'v1alpha3',
    plural: 'envoyfilters',
    short: [],
    namespaced: true,
  },
  {
    kind: 'PeerAuthentication',
    group: 'security.istio.io',
    version: 'v1beta1',
    plural: 'peerauthentications',
    short: ['pa'],
    namespaced: true,
  },
  {
    kind: 'AuthorizationPolicy',
    group: 'security.istio.io',
    version: 'v1beta1',
    plural: 'authorizationpolicies',
    short: ['ap'],
    namespaced: true,
  },
  {
    kind: 'RequestAuthentication',
    group: 'security.istio.io',
    version: 'v1beta1',
    plural: 'requestauthentications',
    short: ['ra'],
    namespaced: true,
  },
];

/** Namespaces every cluster has. */
export const BUILTIN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'istio-system'];

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

/** The kind of an object (by apiVersion group and kind), or undefined when unknown. */
export function kindOf(apiVersion: string, kind: string): KindInfo | undefined {
  const g = groupOf(apiVersion);
  return KINDS.find((k) => k.kind === kind && k.group === g);
}

/** A resource name as kubectl takes it (svc, services, service, serviceentry.networking.istio.io, ...). */
export function resolveResource(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  const [base, ...rest] = n.split('.');
  const group = rest.join('.');
  return KINDS.find(
    (k) =>
      (group === '' || group === k.group) &&
      (base === k.plural || base === k.kind.toLowerCase() || k.short.includes(base)),
  );
}

/** `service`, `deployment.apps`, `virtualservice.networking.istio.io`: how kubectl names a kind in output. */
export const kindRef = (k: KindInfo) => (k.group ? `${k.kind.toLowerCase()}.${k.group}` : k.kind.toLowerCase());

export const objKey = (k: KindInfo, namespace: string, name: string) =>
  `${k.group}/${k.kind}/${k.namespaced ? namespace : ''}/${name}`;

// ---- JSON helpers ---------------------------------------------------------------------

export const isObj = (v: unknown): v is Record<string, Untyped> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/** JSON merge patch (RFC 7386): null removes, objects merge, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): Untyped {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, Untyped> = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * kubectl's client-side apply, simplified: start from the live object, drop what the
 * previous applied configuration had and the new one has not, then merge the new one in
 * (maps merge, lists and scalars replace). Fields only the server set are kept.
 */
export function threeWayMerge(live: unknown, lastApplied: unknown, applied: unknown): Untyped {
  if (!isObj(applied) || !isObj(live)) return clone(applied);
  const out: Record<string, Untyped> = clone(live);
  const last = isObj(lastApplied) ? lastApplied : {};
  for (const k of Object.keys(last)) if (!(k in applied)) delete out[k];
  for (const [k, v] of Object.entries(applied)) out[k] = threeWayMerge(out[k], last[k], v);
  return out;
}

/** Labels match a selector (every selector pair present with the same value). */
export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** kubectl's label selector syntax: `a=b,c!=d,e,!f` (also `==`). */
export function parseSelector(s: string): ((labels: Record<string, string> | undefined) => boolean) | string {
  const tests: Array<(l: Record<string, string>) => boolean> = [];
  for (const raw of s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*!=\s*([\w.-]*)$/.exec(raw))) {
      const [k, v] = [m[1], m[2]];
      tests.push((l) => l[k] !== v);
    } else if ((m = /^([\w./-]+)\s*==?\s*([\w.-]*)$/.exec(raw))) {
      const [k, v] = [m[1], m[2]];
      tests.push((l) => l[k] === v);
    } else if ((m = /^!([\w./-]+)$/.exec(raw))) {
      const k = m[1];
      tests.push((l) => !(k in l));
    } else if ((m = /^([\w./-]+)$/.exec(raw))) {
      const k = m[1];
      tests.push((l) => k in l);
    } else return `unable to parse requirement: ${raw} (the lab supports a=b, a!=b, a and !a)`;
  }
  return (labels) => tests.every((t) => t(labels ?? {}));
}
