// meshbook lab kubectl: manifests (-f) read and checked, and objects stored as apply does.
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import {
  KINDS,
  clone,
  deepEqual,
  isObj,
  kindOf,
  objKey,
  threeWayMerge,
  type KObject,
  type KindInfo,
} from '../kinds.ts';
import { assignClusterIP } from '../objects.ts';
import { KubectlError, NotInLab, type Ctx } from './common.ts';

export async function readManifests(ctx: Ctx): Promise<KObject[]> {
  if (ctx.a.flags.k || ctx.a.flags.kustomize)
    throw new NotInLab('kubectl -k (kustomize) is not in the lab: render the manifests and pass them with -f');
  if (!ctx.a.files.length) throw new KubectlError('error: must specify one of -f and -k');
  const texts: Array<[string, string]> = [];
  for (const f of ctx.a.files) {
    if (f === '-') texts.push(['STDIN', ctx.call.stdin ?? '']);
    else if (/^https?:\/\//.test(f))
      throw new NotInLab(
        `kubectl -f ${f}: the lab cannot fetch URLs (no network): download the file and pass it with -f`,
      );
    else {
      const p = path.resolve(ctx.call.cwd ?? process.cwd(), f);
      const st = await fsp.stat(p).catch(() => null);
      if (!st) throw new KubectlError(`error: the path "${f}" does not exist`);
      const files = st.isDirectory()
        ? (await fsp.readdir(p))
            .filter((x) => /\.(ya?ml|json)$/.test(x))
            .sort()
            .map((x) => path.join(p, x))
        : [p];
      for (const x of files) texts.push([x, await fsp.readFile(x, 'utf8')]);
    }
  }
  const out: KObject[] = [];
  for (const [name, text] of texts) {
    for (const doc of YAML.parseAllDocuments(text)) {
      if (doc.errors.length)
        throw new KubectlError(`error: error parsing ${name}: ${doc.errors[0].message.split('\n')[0]}`);
      const o = doc.toJS();
      if (o === null || o === undefined) continue;
      if (isObj(o) && o.kind === 'List' && Array.isArray(o.items)) out.push(...(o.items as KObject[]));
      else out.push(o as KObject);
    }
  }
  if (!out.length) throw new KubectlError('error: no objects passed to apply');
  return out;
}

export interface Resolved {
  info: KindInfo;
  ns: string;
  key: string;
  obj: KObject;
}

/** Check an object from a manifest: its kind, name and namespace (kubectl's rules). */
export function resolveObject(ctx: Ctx, o: KObject): Resolved {
  if (!isObj(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
    throw new KubectlError('error: error validating data: apiVersion or kind not set');
  const name = o.metadata?.name;
  if (typeof name !== 'string' || !name)
    throw new KubectlError(`error: error validating data: ${o.kind} has no metadata.name`);
  const info = kindOf(o.apiVersion, o.kind);
  if (!info)
    throw new NotInLab(
      `${o.kind} (${o.apiVersion}) is not in the lab: its cluster knows ${KINDS.filter((k) => !k.virtual && !k.notInLab)
        .map((k) => k.kind)
        .join(', ')}`,
    );
  if (info.notInLab) throw new NotInLab(`${info.kind} ${name}: ${info.notInLab}`);
  if (info.virtual)
    throw new NotInLab(
      `${info.kind} ${name}: the lab cluster makes ${info.plural} itself ` +
        `(from Deployments and Services) and cannot take them from a manifest`,
    );
  const obj = clone(o);
  let ns = '';
  if (info.namespaced) {
    ns = obj.metadata.namespace ?? ctx.a.namespace ?? 'default';
    if (ctx.a.namespace && obj.metadata.namespace && obj.metadata.namespace !== ctx.a.namespace) {
      throw new KubectlError(
        `error: the namespace from the provided object "${obj.metadata.namespace}" does not match the namespace ` +
          `"${ctx.a.namespace}". You must pass '--namespace=${obj.metadata.namespace}' to perform this operation.`,
      );
    }
    obj.metadata.namespace = ns;
  } else delete obj.metadata.namespace;
  return { info, ns, key: objKey(info, ns, name), obj };
}

const BOOKKEEPING = ['uid', 'creationTimestamp', 'resourceVersion', 'generation'];

/** What the cluster would hold after applying `applied`: [merged, existing live or undefined]. */
export function merged(ctx: Ctx, r: Resolved): { next: KObject; live?: KObject } {
  const cur = ctx.st.objects[r.key];
  if (!cur) return { next: r.obj };
  return { next: threeWayMerge(cur.live, cur.lastApplied, r.obj), live: cur.live };
}

export function store(
  ctx: Ctx,
  r: Resolved,
  next: KObject,
  lastApplied: KObject | undefined,
): 'created' | 'configured' | 'unchanged' {
  const cur = ctx.st.objects[r.key];
  if (cur && deepEqual(next, cur.live) && deepEqual(lastApplied ?? cur.lastApplied, cur.lastApplied))
    return 'unchanged';
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
      throw new KubectlError(
        `The Service "${r.obj.metadata.name}" is invalid: spec.clusterIP: ` +
          `Invalid value: "${live.spec?.clusterIP}": field is immutable`,
      );
    }
  }
  live.metadata.resourceVersion = String(rv);
  ctx.st.objects[r.key] = { live, lastApplied: lastApplied ?? cur?.lastApplied };
  ctx.dirty = true;
  (ctx.touched ??= []).push(`${r.ns}/${r.obj.metadata.name}`);
  return cur ? 'configured' : 'created';
}
