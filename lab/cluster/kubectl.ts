// meshbook lab cluster: the kubectl verbs the runbooks use, carried out against the lab
// cluster (the object store in <state>/cluster/cluster.json, the pods, the data plane).
//
//   apply  [-n NS] -f -|FILE [--dry-run]   store (kubectl's 3-way merge), then reconcile
//   diff   [-n NS] -f -                    exit 0 when nothing would change, 1 with a diff
//   create namespace X | -f -              like apply, but AlreadyExists for existing objects
//   get    KIND[,KIND] [NAME...] | KIND/NAME ... [-n NS|-A] [-l SEL] [-o json|yaml|name|wide|jsonpath=T]
//   label | annotate KIND NAME k=v k- [--overwrite]     patch KIND NAME -p JSON [--type merge|strategic]
//   delete -f - | KIND NAME... [-l SEL] [--ignore-not-found]   (a namespace takes its objects along)
//   rollout status|restart deploy/X   scale deploy/X --replicas=N   wait --for=condition=Ready|Available ...
//   exec [-n NS] deploy/X|pod/X|X [-c C] -- CMD...   (inside the pod's namespaces)   logs deploy/X|pod/X
//   version, cluster-info, auth can-i
// Everything else is reported "not in lab" with the reason.
import path from 'node:path';
import { promises as fsp, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { $ } from 'zx';
import { REPO_ROOT, type LabConfig } from '../config.ts';
import { readState, type LabState } from '../vms.ts';
import { CLEAN_ENV, alive, sleep, writeIfChanged } from '../sys.ts';
import {
  BUILTIN_NAMESPACES,
  KINDS,
  clone,
  deepEqual,
  isObj,
  kindOf,
  kindRef,
  mergePatch,
  objKey,
  parseSelector,
  resolveResource,
  threeWayMerge,
  type KObject,
  type KindInfo,
} from './kinds.ts';
import { jsonpath, JsonPathError } from './jsonpath.ts';
import { parseDuration, type KubectlArgs } from './kubectl-args.ts';
import {
  INGRESS,
  assignClusterIP,
  currentMesh,
  deploymentPods,
  deploymentStatus,
  deploymentWorkload,
  gatewayPodObject,
  ingressService,
  namespaceExists,
  podConsole,
  podObject,
  reconcile,
  storedObjects,
  type Report,
} from './controller.ts';
import { nsenterPid } from './proxies.ts';
import { readClusterState, saveClusterState, withClusterLock, type ClusterState, type PodRecord } from './state.ts';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  notInLab?: string;
  timedOut?: boolean;
}

const line = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
export const ok = (stdout = '', stderr = ''): Outcome => ({ code: 0, stdout: line(stdout), stderr: line(stderr) });
export const fail = (stderr: string, code = 1, stdout = ''): Outcome => ({ code, stdout: line(stdout), stderr: line(stderr) });
export const notInLab = (why: string): Outcome => ({ code: 0, stdout: '', stderr: '', notInLab: why });

class KubectlError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}
class NotInLab extends Error {}

export interface Call {
  cfg: LabConfig;
  args: KubectlArgs;
  stdin?: string;
  cwd?: string;
  timeoutMs: number;
}

interface Ctx {
  cfg: LabConfig;
  st: ClusterState;
  lab: LabState;
  a: KubectlArgs;
  call: Call;
  /** reconcile after the verb (it changed something) */
  dirty: boolean;
  deletePods: string[];
  /** ns/name of the objects this call changed */
  touched?: string[];
}

const NO_CLUSTER = 'the lab has no cluster: run meshbook lab up (without --no-cluster)';

/** Run one kubectl verb against the lab cluster. */
export async function kubectl(call: Call): Promise<Outcome> {
  const a = call.args;
  const verb = a.verb;
  if (verb === 'version') return ok(`Client Version: meshbook lab provider (kubectl stand-in)\nServer Version: meshbook lab cluster (prefix ${call.cfg.prefix})`);
  if (verb === 'auth' && a.args[0] === 'can-i') return ok('yes');
  const handler = VERBS[verb];
  if (!handler) {
    return notInLab(`kubectl ${verb || '(no verb)'} is not in the lab: its cluster supports ${Object.keys(VERBS).concat('version', 'auth can-i').join(', ')}`);
  }
  try {
    return await withClusterLock(call.cfg, async () => {
      const st = await readClusterState(call.cfg);
      const lab = await readState(call.cfg);
      if (!st || !lab?.cluster) return fail(`error: ${NO_CLUSTER}`);
      const ctx: Ctx = { cfg: call.cfg, st, lab, a, call, dirty: false, deletePods: [] };
      let report: Report | undefined;
      try {
        report = await reconcile(call.cfg, st, lab); // pods that stopped come back, like a controller would do
        const out = await handler(ctx);
        if (ctx.dirty && !a.flags['dry-run']) {
          report = await reconcile(call.cfg, st, lab, { deletePods: ctx.deletePods });
          return finish(out, report, ctx);
        }
        return out;
      } finally {
        await saveClusterState(call.cfg, st);
      }
    }, Math.max(call.timeoutMs, 1000));
  } catch (e) {
    if (e instanceof NotInLab) return notInLab(e.message);
    if (e instanceof KubectlError) return fail(e.message, e.code);
    if (e instanceof JsonPathError) return fail(`error: error parsing jsonpath: ${e.message}`);
    return fail(`error: lab cluster: ${(e as Error).message}`);
  }
}

/** After a change: Deployments the lab cannot run make the command "not in lab"; problems and data plane warnings are shown. */
function finish(out: Outcome, report: Report, ctx: Ctx): Outcome {
  const touched = new Set(ctx.touched ?? []);
  const mine = report.notInLab.filter((r) => [...touched].some((t) => r.startsWith(`deployment ${t}:`)));
  if (mine.length) return notInLab(mine.join('; '));
  const extra = [...report.problems.map((p) => `warning: ${p}`), ...report.warnings.map((w) => `warning: lab data plane: ${w}`)];
  return { ...out, stdout: line(out.stdout + extra.join('\n')) };
}

// ---- objects -------------------------------------------------------------------------------------

async function readManifests(ctx: Ctx): Promise<KObject[]> {
  if (ctx.a.flags.k || ctx.a.flags.kustomize) throw new NotInLab('kubectl -k (kustomize) is not in the lab: render the manifests and pass them with -f');
  if (!ctx.a.files.length) throw new KubectlError('error: must specify one of -f and -k');
  const texts: Array<[string, string]> = [];
  for (const f of ctx.a.files) {
    if (f === '-') texts.push(['STDIN', ctx.call.stdin ?? '']);
    else if (/^https?:\/\//.test(f)) throw new NotInLab(`kubectl -f ${f}: the lab cannot fetch URLs (no network): download the file and pass it with -f`);
    else {
      const p = path.resolve(ctx.call.cwd ?? process.cwd(), f);
      const st = await fsp.stat(p).catch(() => null);
      if (!st) throw new KubectlError(`error: the path "${f}" does not exist`);
      const files = st.isDirectory() ? (await fsp.readdir(p)).filter((x) => /\.(ya?ml|json)$/.test(x)).sort().map((x) => path.join(p, x)) : [p];
      for (const x of files) texts.push([x, await fsp.readFile(x, 'utf8')]);
    }
  }
  const out: KObject[] = [];
  for (const [name, text] of texts) {
    for (const doc of YAML.parseAllDocuments(text)) {
      if (doc.errors.length) throw new KubectlError(`error: error parsing ${name}: ${doc.errors[0].message.split('\n')[0]}`);
      const o = doc.toJS();
      if (o === null || o === undefined) continue;
      if (isObj(o) && o.kind === 'List' && Array.isArray(o.items)) out.push(...(o.items as KObject[]));
      else out.push(o as KObject);
    }
  }
  if (!out.length) throw new KubectlError('error: no objects passed to apply');
  return out;
}

interface Resolved {
  info: KindInfo;
  ns: string;
  key: string;
  obj: KObject;
}

/** Check an object from a manifest: its kind, name and namespace (kubectl's rules). */
function resolveObject(ctx: Ctx, o: KObject): Resolved {
  if (!isObj(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') throw new KubectlError('error: error validating data: apiVersion or kind not set');
  const name = o.metadata?.name;
  if (typeof name !== 'string' || !name) throw new KubectlError(`error: error validating data: ${o.kind} has no metadata.name`);
  const info = kindOf(o.apiVersion, o.kind);
  if (!info) throw new NotInLab(`${o.kind} (${o.apiVersion}) is not in the lab: its cluster knows ${KINDS.filter((k) => !k.virtual && !k.notInLab).map((k) => k.kind).join(', ')}`);
  if (info.notInLab) throw new NotInLab(`${info.kind} ${name}: ${info.notInLab}`);
  if (info.virtual) throw new NotInLab(`${info.kind} ${name}: the lab cluster makes ${info.plural} itself (from Deployments and Services) and cannot take them from a manifest`);
  const obj = clone(o);
  let ns = '';
  if (info.namespaced) {
    ns = obj.metadata.namespace ?? ctx.a.namespace ?? 'default';
    if (ctx.a.namespace && obj.metadata.namespace && obj.metadata.namespace !== ctx.a.namespace) {
      throw new KubectlError(`error: the namespace from the provided object "${obj.metadata.namespace}" does not match the namespace "${ctx.a.namespace}". You must pass '--namespace=${obj.metadata.namespace}' to perform this operation.`);
    }
    obj.metadata.namespace = ns;
  } else delete obj.metadata.namespace;
  return { info, ns, key: objKey(info, ns, name), obj };
}

const BOOKKEEPING = ['uid', 'creationTimestamp', 'resourceVersion', 'generation'];

/** What the cluster would hold after applying `applied`: [merged, existing live or undefined]. */
function merged(ctx: Ctx, r: Resolved): { next: KObject; live?: KObject } {
  const cur = ctx.st.objects[r.key];
  if (!cur) return { next: r.obj };
  return { next: threeWayMerge(cur.live, cur.lastApplied, r.obj), live: cur.live };
}

function store(ctx: Ctx, r: Resolved, next: KObject, lastApplied: KObject | undefined): 'created' | 'configured' | 'unchanged' {
  const cur = ctx.st.objects[r.key];
  if (cur && deepEqual(next, cur.live) && deepEqual(lastApplied ?? cur.lastApplied, cur.lastApplied)) return 'unchanged';
  const rv = ++ctx.st.resourceVersion;
  const live = clone(next);
  if (!cur) {
    live.metadata.uid = randomUUID();
    live.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    live.metadata.generation = 1;
    if (r.info.kind === 'Service') assignClusterIP(ctx.st, live);
  } else {
    for (const k of BOOKKEEPING) if (cur.live.metadata[k] !== undefined) live.metadata[k] = cur.live.metadata[k];
    if (!deepEqual(next.spec, cur.live.spec)) live.metadata.generation = Number(cur.live.metadata.generation ?? 1) + 1;
    if (r.info.kind === 'Service' && cur.live.spec?.clusterIP && live.spec?.clusterIP !== cur.live.spec.clusterIP) {
      throw new KubectlError(`The Service "${r.obj.metadata.name}" is invalid: spec.clusterIP: Invalid value: "${live.spec?.clusterIP}": field is immutable`);
    }
  }
  live.metadata.resourceVersion = String(rv);
  ctx.st.objects[r.key] = { live, lastApplied: lastApplied ?? cur?.lastApplied };
  ctx.dirty = true;
  (ctx.touched ??= []).push(`${r.ns}/${r.obj.metadata.name}`);
  return cur ? 'configured' : 'created';
}

async function applyVerb(ctx: Ctx, create = false): Promise<Outcome> {
  if (ctx.a.flags.prune) throw new NotInLab('kubectl apply --prune is not in the lab');
  const objs = await readManifests(ctx);
  const out: string[] = [];
  const errs: string[] = [];
  const dry = ctx.a.flags['dry-run'] && ctx.a.flags['dry-run'] !== 'none' ? ` (${ctx.a.flags['dry-run'] === 'server' ? 'server ' : ''}dry run)` : '';
  const resolved = objs.map((o) => resolveObject(ctx, o)); // every object is checked before any is stored
  const newNamespaces = new Set(resolved.filter((r) => r.info.kind === 'Namespace').map((r) => r.obj.metadata.name));
  for (const r of resolved) {
    const name = r.obj.metadata.name;
    if (r.info.namespaced && !namespaceExists(ctx.st, r.ns) && !(dry && newNamespaces.has(r.ns))) {
      errs.push(`Error from server (NotFound): error when creating "STDIN": namespaces "${r.ns}" not found`);
      continue;
    }
    if (create && ctx.st.objects[r.key]) {
      errs.push(`Error from server (AlreadyExists): error when creating "STDIN": ${r.info.plural} "${name}" already exists`);
      continue;
    }
    const { next } = merged(ctx, r);
    if (dry) {
      const cur = ctx.st.objects[r.key];
      out.push(`${kindRef(r.info)}/${name} ${!cur ? 'created' : deepEqual(next, cur.live) ? 'unchanged' : 'configured'}${dry}`);
      continue;
    }
    out.push(`${kindRef(r.info)}/${name} ${store(ctx, r, next, r.obj)}`);
  }
  return errs.length ? fail(errs.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}

async function diffVerb(ctx: Ctx): Promise<Outcome> {
  const objs = await readManifests(ctx);
  const chunks: string[] = [];
  for (const o of objs) {
    const r = resolveObject(ctx, o);
    const { next, live } = merged(ctx, r);
    if (live && deepEqual(next, live)) continue;
    const id = `${r.info.group ? `${r.info.group}.` : ''}${r.obj.apiVersion.split('/').pop()}.${r.info.kind}.${r.ns ? `${r.ns}.` : ''}${r.obj.metadata.name}`;
    chunks.push(unifiedDiff(live ? YAML.stringify(live) : '', YAML.stringify(next), `/tmp/LIVE/${id}`, `/tmp/MERGED/${id}`));
  }
  return chunks.length ? { code: 1, stdout: chunks.join(''), stderr: '' } : ok();
}

/** A small unified diff (whole files as one hunk; objects are short). */
export function unifiedDiff(a: string, b: string, nameA: string, nameB: string): string {
  const x = a ? a.replace(/\n$/, '').split('\n') : [];
  const y = b ? b.replace(/\n$/, '').split('\n') : [];
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const body: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      body.push(` ${x[i++]}`);
      j++;
    } else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) body.push(`-${x[i++]}`);
    else body.push(`+${y[j++]}`);
  }
  return `diff -u -N ${nameA} ${nameB}\n--- ${nameA}\n+++ ${nameB}\n@@ -${n ? 1 : 0},${n} +${m ? 1 : 0},${m} @@\n${body.join('\n')}\n`;
}

// ---- reading ----------------------------------------------------------------------------------------

function resourceOf(name: string): KindInfo {
  const info = resolveResource(name);
  if (!info) {
    throw new NotInLab(`resource type "${name}" is not in the lab: its cluster knows ${KINDS.filter((k) => !k.notInLab).map((k) => k.plural).join(', ')}`);
  }
  if (info.notInLab) throw new NotInLab(`${info.plural}: ${info.notInLab}`);
  return info;
}

/** The objects of a kind the cluster shows (namespace: one, or all when undefined). */
function listKind(ctx: Ctx, info: KindInfo, ns: string | undefined): KObject[] {
  const { st, cfg } = ctx;
  const inNs = (o: KObject) => !info.namespaced || ns === undefined || (o.metadata.namespace ?? 'default') === ns;
  let list: KObject[];
  switch (info.kind) {
    case 'Namespace': {
      const stored = storedObjects(st).filter((o) => o.kind === 'Namespace');
      const builtins = BUILTIN_NAMESPACES.filter((n) => !stored.some((o) => o.metadata.name === n)).map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }) as KObject);
      list = [...stored, ...builtins].map((o) => ({ ...clone(o), status: { phase: 'Active' } }));
      break;
    }
    case 'Pod':
      list = [...st.pods.map((p) => podObject(cfg, st, p)), gatewayPodObject(cfg, st)];
      break;
    case 'Service': {
      const stored = storedObjects(st).filter((o) => o.kind === 'Service');
      const withIngress = stored.some((o) => o.metadata.name === INGRESS.name && o.metadata.namespace === INGRESS.namespace) ? stored : [...stored, ingressService(st, storedObjects(st))];
      list = withIngress.map((o) => ({ ...clone(o), status: o.status ?? { loadBalancer: {} } }));
      break;
    }
    case 'Deployment':
      list = storedObjects(st).filter((o) => o.kind === 'Deployment').map((o) => ({ ...clone(o), status: deploymentStatus(st, o) }));
      break;
    case 'Endpoints': {
      const mesh = currentMesh(st);
      list = [...mesh.services.values()].filter((s) => s.kube).map((s) => ({
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: s.kube!.name, namespace: s.namespace },
        subsets: s.kube!.ports.some((p) => p.endpoints.length)
          ? [{ addresses: [...new Set(s.kube!.ports.flatMap((p) => p.endpoints.map((e) => e.split(':')[0])))].map((ip) => ({ ip })), ports: s.kube!.ports.map((p) => ({ name: p.name, port: Number(p.endpoints[0]?.split(':')[1] ?? p.port), protocol: p.protocol })) }]
          : [],
      }) as KObject);
      break;
    }
    case 'Node':
      list = [{
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: st.node.netns, labels: { 'kubernetes.io/hostname': st.node.netns, 'node-role.kubernetes.io/control-plane': '' } },
        spec: { podCIDR: st.plan.podSubnet },
        status: { addresses: [{ type: 'InternalIP', address: st.plan.nodeAddress }], conditions: [{ type: 'Ready', status: 'True' }] },
      }];
      break;
    default:
      list = storedObjects(st).filter((o) => kindOf(o.apiVersion, o.kind) === info).map((o) => clone(o));
  }
  return list.filter(inNs).sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
}

/** KIND[,KIND] NAME... or KIND/NAME ...: [kind, names[]] pairs (names empty: all). */
function targets(args: string[]): Array<{ info: KindInfo; names: string[] }> {
  if (!args.length) throw new KubectlError('error: You must specify the type of resource to get.');
  if (args.every((x) => x.includes('/'))) {
    const out: Array<{ info: KindInfo; names: string[] }> = [];
    for (const x of args) {
      const [t, n] = [x.slice(0, x.indexOf('/')), x.slice(x.indexOf('/') + 1)];
      const info = resourceOf(t);
      const cur = out.find((o) => o.info === info);
      if (cur) cur.names.push(n);
      else out.push({ info, names: [n] });
    }
    return out;
  }
  const types = args[0].split(',').flatMap((t) => (t === 'all' ? ['pods', 'services', 'deployments'] : [t]));
  return types.map((t) => ({ info: resourceOf(t), names: args.slice(1) }));
}

function selectorOf(ctx: Ctx) {
  if (!ctx.a.selector) return () => true;
  const s = parseSelector(ctx.a.selector);
  if (typeof s === 'string') throw new KubectlError(`error: ${s}`);
  return (o: KObject) => s(o.metadata.labels);
}

function age(ts: unknown): string {
  const t = typeof ts === 'string' ? Date.parse(ts) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
}

function table(infos: KindInfo[], items: KObject[], wide: boolean, allNs: boolean, prefixKind: boolean): string {
  const info = infos[0];
  const name = (o: KObject) => (prefixKind ? `${kindRef(info)}/${o.metadata.name}` : o.metadata.name);
  let head: string[];
  let row: (o: KObject) => string[];
  switch (info.kind) {
    case 'Pod':
      head = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE'] : [])];
      row = (o) => {
        const cs = (o.status?.containerStatuses ?? []) as any[];
        return [name(o), `${cs.filter((c) => c.ready).length}/${cs.length}`, o.status?.phase, String(cs[0]?.restartCount ?? 0), age(o.metadata.creationTimestamp), ...(wide ? [o.status?.podIP, o.spec?.nodeName] : [])];
      };
      break;
    case 'Service':
      head = ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', ...(wide ? ['SELECTOR'] : [])];
      row = (o) => [
        name(o),
        o.spec?.type ?? 'ClusterIP',
        o.spec?.clusterIP ?? '<none>',
        (o.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip).join(',') || (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>'),
        ((o.spec?.ports ?? []) as any[]).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>',
        age(o.metadata.creationTimestamp),
        ...(wide ? [Object.entries(o.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'] : []),
      ];
      break;
    case 'Deployment':
      head = ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
      row = (o) => [name(o), `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`, String(o.status?.updatedReplicas ?? 0), String(o.status?.availableReplicas ?? 0), age(o.metadata.creationTimestamp)];
      break;
    case 'Namespace':
      head = ['NAME', 'STATUS', 'AGE'];
      row = (o) => [name(o), 'Active', age(o.metadata.creationTimestamp)];
      break;
    default:
      head = ['NAME', 'AGE'];
      row = (o) => [name(o), age(o.metadata.creationTimestamp)];
  }
  const rows = [allNs && info.namespaced ? ['NAMESPACE', ...head] : head, ...items.map((o) => (allNs && info.namespaced ? [o.metadata.namespace ?? '', ...row(o)] : row(o)).map((c) => String(c ?? '')))];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3))).join('').trimEnd()).join('\n') + '\n';
}

const asList = (items: KObject[]) => ({ apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } });

async function getVerb(ctx: Ctx): Promise<Outcome> {
  const a = ctx.a;
  const ns = a.allNamespaces ? undefined : a.namespace ?? 'default';
  const sel = selectorOf(ctx);
  const groups = targets(a.args);
  const errors: string[] = [];
  const found: Array<{ info: KindInfo; items: KObject[] }> = [];
  let single = groups.length === 1 && groups[0].names.length === 1;
  for (const g of groups) {
    const all = listKind(ctx, g.info, g.info.namespaced ? ns : undefined).filter(sel);
    if (!g.names.length) {
      found.push({ info: g.info, items: all });
      continue;
    }
    const items: KObject[] = [];
    for (const n of g.names) {
      const o = all.find((x) => x.metadata.name === n);
      if (o) items.push(o);
      else if (!a.flags['ignore-not-found']) errors.push(`Error from server (NotFound): ${g.info.plural}${g.info.group ? `.${g.info.group}` : ''} "${n}" not found`);
    }
    found.push({ info: g.info, items });
  }
  const items = found.flatMap((f) => f.items);
  if (single && !items.length) single = false;
  const o = a.output ?? '';
  let stdout = '';
  if (o === 'json') stdout = JSON.stringify(single ? items[0] : asList(items), null, 4) + '\n';
  else if (o === 'yaml') stdout = YAML.stringify(single ? items[0] : asList(items));
  else if (o === 'name') stdout = items.map((x) => `${kindRef(resolveResource(x.kind)!)}/${x.metadata.name}`).join('\n');
  else if (o.startsWith('jsonpath=') || o.startsWith('jsonpath-as-json=')) {
    const tpl = o.slice(o.indexOf('=') + 1);
    stdout = jsonpath(tpl.replace(/^'(.*)'$/s, '$1'), single ? items[0] : asList(items));
  } else if (o === '' || o === 'wide') {
    const multi = found.length > 1;
    stdout = found.filter((f) => f.items.length).map((f) => table([f.info], f.items, o === 'wide', a.allNamespaces, multi)).join('\n');
    if (!items.length && !errors.length) return ok('', `No resources found${ns ? ` in ${ns} namespace` : ''}.`);
  } else if (o.startsWith('custom-columns') || o.startsWith('go-template') || o.startsWith('template')) throw new NotInLab(`kubectl get -o ${o.split('=')[0]} is not in the lab: use -o json, yaml, name, wide or jsonpath`);
  else throw new KubectlError(`error: unable to match a printer suitable for the output format "${o}", allowed formats are: json,jsonpath,name,wide,yaml`);
  // as kubectl: jsonpath output ends where the template ends (no newline added)
  return errors.length ? { code: 1, stdout, stderr: line(errors.join('\n')) } : { code: 0, stdout: o === '' || o === 'wide' || o === 'name' ? line(stdout) : stdout, stderr: '' };
}

// ---- changing live objects ---------------------------------------------------------------------

/** Stored objects named by KIND NAME... / KIND/NAME / -l / --all (built-in namespaces are stored on first change). */
function pickStored(ctx: Ctx, words: string[]): { picked: Array<{ info: KindInfo; key: string; name: string }>; missing: string[] } {
  const groups = targets(words);
  const ns = ctx.a.namespace ?? 'default';
  const sel = selectorOf(ctx);
  const picked: Array<{ info: KindInfo; key: string; name: string }> = [];
  const missing: string[] = [];
  for (const g of groups) {
    if (g.info.virtual && g.info.kind !== 'Pod') throw new NotInLab(`${g.info.plural} are made by the lab cluster and cannot be changed`);
    const names = g.names.length ? g.names : ctx.a.selector || ctx.a.flags.all ? listKind(ctx, g.info, g.info.namespaced ? ns : undefined).filter(sel).map((o) => o.metadata.name) : [];
    if (!names.length && !g.names.length) throw new KubectlError('error: resource(s) were provided, but no name was specified');
    for (const n of names) {
      const key = objKey(g.info, ns, n);
      if (!ctx.st.objects[key] && g.info.kind === 'Namespace' && BUILTIN_NAMESPACES.includes(n)) {
        ctx.st.objects[key] = { live: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } } };
      }
      if (g.info.kind === 'Pod' ? ctx.st.pods.some((p) => p.name === n && p.namespace === ns) : !!ctx.st.objects[key]) picked.push({ info: g.info, key, name: n });
      else missing.push(`Error from server (NotFound): ${g.info.plural} "${n}" not found`);
    }
  }
  return { picked, missing };
}

function metaVerb(ctx: Ctx, field: 'labels' | 'annotations'): Outcome {
  const ops = ctx.a.args.filter((w) => /^[\w./-]+=/.test(w) || /^[\w./-]+-$/.test(w));
  const words = ctx.a.args.filter((w) => !ops.includes(w));
  if (!ops.length) throw new KubectlError(`error: at least one ${field === 'labels' ? 'label' : 'annotation'} update is required`);
  const { picked, missing } = pickStored(ctx, words);
  const out: string[] = [];
  for (const p of picked) {
    if (p.info.kind === 'Pod') throw new NotInLab('changing labels of a running pod is not in the lab: change the Deployment');
    const o = ctx.st.objects[p.key].live;
    const meta = (o.metadata[field] ?? {}) as Record<string, string>;
    const before = clone(meta);
    for (const op of ops) {
      if (op.endsWith('-') && !op.includes('=')) delete meta[op.slice(0, -1)];
      else {
        const [k, v] = [op.slice(0, op.indexOf('=')), op.slice(op.indexOf('=') + 1)];
        if (meta[k] !== undefined && meta[k] !== v && !ctx.a.flags.overwrite) {
          throw new KubectlError(`error: '${k}' already has a value (${meta[k]}), and --overwrite is false`);
        }
        meta[k] = v;
      }
    }
    const verbed = field === 'labels' ? 'labeled' : 'annotated';
    if (deepEqual(before, meta)) out.push(`${kindRef(p.info)}/${p.name} not ${verbed}`);
    else {
      o.metadata[field] = meta;
      o.metadata.resourceVersion = String(++ctx.st.resourceVersion);
      ctx.dirty = true;
      out.push(`${kindRef(p.info)}/${p.name} ${verbed}`);
    }
  }
  return missing.length ? fail(missing.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}

function patchVerb(ctx: Ctx): Outcome {
  const type = String(ctx.a.flags.type ?? 'strategic');
  if (type === 'json') throw new NotInLab('kubectl patch --type json is not in the lab: use --type merge');
  if (!['merge', 'strategic'].includes(type)) throw new KubectlError(`error: --type must be one of [json merge strategic], not "${type}"`);
  if (!ctx.a.patch) throw new KubectlError('error: must specify -p to patch');
  let patch: unknown;
  try {
    patch = JSON.parse(ctx.a.patch);
  } catch {
    try {
      patch = YAML.parse(ctx.a.patch);
    } catch (e) {
      throw new KubectlError(`error: unable to parse "${ctx.a.patch}": ${(e as Error).message}`);
    }
  }
  const { picked, missing } = pickStored(ctx, ctx.a.args);
  const out: string[] = [];
  for (const p of picked) {
    if (p.info.kind === 'Pod') throw new NotInLab('patching a running pod is not in the lab: patch the Deployment');
    const cur = ctx.st.objects[p.key].live;
    const next = mergePatch(cur, patch) as KObject;
    if (deepEqual(next, cur)) out.push(`${kindRef(p.info)}/${p.name} patched (no change)`);
    else {
      if (!deepEqual(next.spec, cur.spec)) next.metadata.generation = Number(cur.metadata.generation ?? 1) + 1;
      next.metadata.resourceVersion = String(++ctx.st.resourceVersion);
      ctx.st.objects[p.key].live = next;
      ctx.dirty = true;
      (ctx.touched ??= []).push(`${next.metadata.namespace ?? ''}/${p.name}`);
      out.push(`${kindRef(p.info)}/${p.name} patched`);
    }
  }
  return missing.length ? fail(missing.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}

async function deleteVerb(ctx: Ctx): Promise<Outcome> {
  let picked: Array<{ info: KindInfo; key: string; name: string }> = [];
  let missing: string[] = [];
  if (ctx.a.files.length) {
    for (const o of await readManifests(ctx)) {
      const r = resolveObject(ctx, o);
      if (ctx.st.objects[r.key]) picked.push({ info: r.info, key: r.key, name: r.obj.metadata.name });
      else missing.push(`Error from server (NotFound): error when deleting "STDIN": ${r.info.plural} "${r.obj.metadata.name}" not found`);
    }
  } else ({ picked, missing } = pickStored(ctx, ctx.a.args));
  if (ctx.a.flags['ignore-not-found']) missing = [];
  const out: string[] = [];
  for (const p of picked) {
    if (p.info.kind === 'Pod') {
      const pod = ctx.st.pods.find((x) => x.name === p.name && x.namespace === (ctx.a.namespace ?? 'default'))!;
      ctx.deletePods.push(`${pod.namespace}/${pod.name}`);
    } else {
      if (p.info.kind === 'Namespace') {
        for (const [k, o] of Object.entries(ctx.st.objects)) if (o.live.metadata.namespace === p.name) delete ctx.st.objects[k];
      }
      delete ctx.st.objects[p.key];
    }
    ctx.dirty = true;
    out.push(`${kindRef(p.info).split('.')[0]} "${p.name}" deleted`);
  }
  return missing.length ? fail(missing.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}

function deploymentArg(ctx: Ctx, words: string[]): KObject {
  const w = words[0]?.includes('/') ? words[0] : words.length >= 2 ? `${words[0]}/${words[1]}` : '';
  const [t, n] = [w.slice(0, w.indexOf('/')), w.slice(w.indexOf('/') + 1)];
  if (!w || resolveResource(t)?.kind !== 'Deployment') throw new NotInLab(`kubectl ${ctx.a.verb} ${words.join(' ')}: the lab supports Deployments here (deploy/NAME)`);
  const o = storedObjects(ctx.st).find((x) => x.kind === 'Deployment' && x.metadata.name === n && (x.metadata.namespace ?? 'default') === (ctx.a.namespace ?? 'default'));
  if (!o) throw new KubectlError(`Error from server (NotFound): deployments.apps "${n}" not found`);
  return o;
}

function cannotRun(d: KObject): void {
  const w = deploymentWorkload(d);
  if (!w.ok) throw new NotInLab(w.reason);
}

async function untilTrue(ctx: Ctx, test: () => boolean): Promise<boolean> {
  const t = parseDuration(ctx.a.flags.timeout);
  const limit = Math.min(t === undefined || t === 0 ? ctx.call.timeoutMs : t, ctx.call.timeoutMs);
  const until = Date.now() + limit;
  for (;;) {
    if (test()) return true;
    if (Date.now() >= until) return false;
    await sleep(100);
    await reconcile(ctx.cfg, ctx.st, ctx.lab);
  }
}

async function rolloutVerb(ctx: Ctx): Promise<Outcome> {
  const sub = ctx.a.args[0];
  const d = deploymentArg(ctx, ctx.a.args.slice(1));
  cannotRun(d);
  if (sub === 'status') {
    const replicas = d.spec?.replicas === undefined ? 1 : Number(d.spec.replicas);
    const done = await untilTrue(ctx, () => {
      const p = deploymentPods(ctx.st, d);
      return p.ready.length >= replicas && p.all.length === p.current.length;
    });
    if (!done) return fail('error: timed out waiting for the condition');
    return ok(`deployment "${d.metadata.name}" successfully rolled out`);
  }
  if (sub === 'restart') {
    const tpl = (d.spec.template ??= {});
    tpl.metadata = tpl.metadata ?? {};
    tpl.metadata.annotations = { ...(tpl.metadata.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() };
    d.metadata.generation = Number(d.metadata.generation ?? 1) + 1;
    ctx.dirty = true;
    return ok(`deployment.apps/${d.metadata.name} restarted`);
  }
  throw new NotInLab(`kubectl rollout ${sub}: the lab supports rollout status and rollout restart`);
}

function scaleVerb(ctx: Ctx): Outcome {
  const d = deploymentArg(ctx, ctx.a.args);
  const n = Number(ctx.a.flags.replicas);
  if (!Number.isInteger(n) || n < 0) throw new KubectlError('error: --replicas=COUNT is required, and COUNT must be greater than or equal to 0');
  if (n > 20) throw new NotInLab(`kubectl scale --replicas=${n}: the lab runs at most 20 pods per Deployment`);
  d.spec.replicas = n;
  ctx.dirty = true;
  return ok(`deployment.apps/${d.metadata.name} scaled`);
}

async function waitVerb(ctx: Ctx): Promise<Outcome> {
  const f = String(ctx.a.flags.for ?? '');
  const m = /^condition=(\w+)(?:=(\w+))?$/i.exec(f);
  if (f === 'delete') {
    const { picked } = pickStored(ctx, ctx.a.args);
    return picked.length ? fail('error: timed out waiting for the condition') : ok();
  }
  if (!m) throw new NotInLab(`kubectl wait --for=${f}: the lab supports --for=condition=Ready (pods), --for=condition=Available (deployments) and --for=delete`);
  const cond = m[1].toLowerCase();
  const ns = ctx.a.namespace ?? 'default';
  const groups = targets(ctx.a.args);
  const sel = selectorOf(ctx);
  const lines: string[] = [];
  for (const g of groups) {
    const names = () => (g.names.length ? g.names : listKind(ctx, g.info, ns).filter(sel).map((o) => o.metadata.name));
    if (!names().length) return fail('error: no matching resources found');
    let test: (n: string) => boolean;
    if (g.info.kind === 'Pod' && cond === 'ready') test = (n) => ctx.st.pods.some((p) => p.name === n && p.namespace === ns && p.ready && alive(p.pid1)) || (n === INGRESS.pod && ns === INGRESS.namespace);
    else if (g.info.kind === 'Deployment' && (cond === 'available' || cond === 'ready')) {
      test = (n) => {
        const d = storedObjects(ctx.st).find((o) => o.kind === 'Deployment' && o.metadata.name === n && o.metadata.namespace === ns);
        if (!d) return false;
        cannotRun(d);
        return deploymentPods(ctx.st, d).ready.length >= (d.spec?.replicas ?? 1);
      };
    } else throw new NotInLab(`kubectl wait --for=${f} on ${g.info.plural} is not in the lab`);
    if (!(await untilTrue(ctx, () => names().every(test)))) return fail('error: timed out waiting for the condition');
    for (const n of names()) lines.push(`${kindRef(g.info)}/${n} condition met`);
  }
  return ok(lines.join('\n'));
}

function podArg(ctx: Ctx): PodRecord {
  const w = ctx.a.args[0];
  if (!w) throw new KubectlError('error: expected POD or TYPE/NAME');
  const ns = ctx.a.namespace ?? 'default';
  const [t, n] = w.includes('/') ? [w.slice(0, w.indexOf('/')), w.slice(w.indexOf('/') + 1)] : ['pod', w];
  const info = resolveResource(t);
  if (info?.kind === 'Deployment') {
    const d = storedObjects(ctx.st).find((o) => o.kind === 'Deployment' && o.metadata.name === n && (o.metadata.namespace ?? 'default') === ns);
    if (!d) throw new KubectlError(`Error from server (NotFound): deployments.apps "${n}" not found`);
    cannotRun(d);
    const p = deploymentPods(ctx.st, d).ready[0];
    if (!p) throw new KubectlError(`error: deployment ${n} has no running pod`);
    return p;
  }
  if (info?.kind !== 'Pod') throw new NotInLab(`kubectl ${ctx.a.verb} ${w}: the lab supports pods and deployments here`);
  if (n === INGRESS.pod && ns === INGRESS.namespace) throw new NotInLab('the lab ingress gateway is NGINX in the node namespace, not a pod to exec into or read logs from');
  const p = ctx.st.pods.find((x) => x.name === n && x.namespace === ns);
  if (!p) throw new KubectlError(`Error from server (NotFound): pods "${n}" not found`);
  return p;
}

function checkContainer(ctx: Ctx, p: PodRecord): void {
  const c = ctx.a.container;
  if (c === 'istio-proxy' && p.injected) throw new NotInLab('the istio-proxy container is NGINX in the lab: there is no pilot-agent or Envoy admin to exec into');
  if (c && !p.containers.includes(c)) throw new KubectlError(`error: container ${c} is not valid for pod ${p.name}`);
}

const machineHas = (bin: string) => (CLEAN_ENV.PATH ?? '').split(':').some((d) => existsSync(path.join(d, bin)));

async function execVerb(ctx: Ctx): Promise<Outcome> {
  const p = podArg(ctx);
  checkContainer(ctx, p);
  const cmd = ctx.a.command;
  if (!cmd.length) throw new KubectlError('error: you must specify at least one command for the container');
  if (!alive(p.pid1)) throw new KubectlError(`error: unable to upgrade connection: pod ${p.name} is not running`);
  // pods see the machine's binaries; without curl there (or MESHBOOK_LAB_CURL_LITE=1, for
  // tests), a small Node stand-in (curl-lite) is first on the PATH
  const shim = process.env.MESHBOOK_LAB_CURL_LITE === '1' || !machineHas('curl');
  const env = { ...CLEAN_ENV, ...(shim ? { PATH: `/run/meshlab/bin:${CLEAN_ENV.PATH}` } : {}) };
  if (shim) await installCurlLite(p);
  const out = await $({ quiet: true, nothrow: true, input: ctx.a.flags.i ? ctx.call.stdin ?? '' : '', timeout: ctx.call.timeoutMs, env })`${nsenterPid(p.pid1!.pid, cmd)}`;
  return { code: out.exitCode ?? 124, stdout: out.stdout, stderr: out.stderr, timedOut: out.exitCode === null };
}

async function installCurlLite(p: PodRecord): Promise<void> {
  const dir = `/proc/${p.pid1!.pid}/root/run/meshlab/bin`;
  await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
  const src = path.join(REPO_ROOT, 'lab', 'cluster', 'curl-lite.mjs');
  await writeIfChanged(path.join(dir, 'curl'), `#!${process.execPath}\n${(await fsp.readFile(src, 'utf8')).replace(/^#!.*\n/, '')}`, 0o755);
}

async function logsVerb(ctx: Ctx): Promise<Outcome> {
  const p = podArg(ctx);
  checkContainer(ctx, p);
  let text = await fsp.readFile(podConsole(ctx.cfg, p.name), 'utf8').catch(() => '');
  const n = ctx.a.flags.tail === undefined ? -1 : Number(ctx.a.flags.tail);
  if (n >= 0) text = text.split('\n').filter((l, i, all) => i < all.length - 1 || l).slice(-n).join('\n') + (n ? '\n' : '');
  return { code: 0, stdout: text, stderr: '' };
}

async function createVerb(ctx: Ctx): Promise<Outcome> {
  if (ctx.a.files.length) return applyVerb(ctx, true);
  const [what, name] = ctx.a.args;
  if (what === 'namespace' || what === 'ns') {
    if (!name) throw new KubectlError('error: exactly one NAME is required');
    const doc = YAML.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return applyVerb({ ...ctx, a: { ...ctx.a, files: ['-'] }, call: { ...ctx.call, stdin: doc } } as Ctx, true).then((o) => {
      if (o.code === 0) ctx.dirty = true;
      return o;
    });
  }
  throw new NotInLab(`kubectl create ${what ?? ''}: the lab supports create namespace and create -f`);
}

function clusterInfo(ctx: Ctx): Outcome {
  return ok(`Kubernetes control plane is the meshbook lab cluster (prefix ${ctx.cfg.prefix}): node ${ctx.st.node.netns} at ${ctx.st.plan.nodeAddress}, Service CIDR ${ctx.st.plan.serviceCidr}, pod CIDR ${ctx.st.plan.podCidr}`);
}

const VERBS: Record<string, (ctx: Ctx) => Outcome | Promise<Outcome>> = {
  apply: (ctx) => applyVerb(ctx),
  diff: diffVerb,
  create: createVerb,
  get: getVerb,
  label: (ctx) => metaVerb(ctx, 'labels'),
  annotate: (ctx) => metaVerb(ctx, 'annotations'),
  patch: patchVerb,
  delete: deleteVerb,
  rollout: rolloutVerb,
  scale: scaleVerb,
  wait: waitVerb,
  exec: execVerb,
  logs: logsVerb,
  'cluster-info': clusterInfo,
};
