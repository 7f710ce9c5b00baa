// meshbook lab kubectl: apply -f and create (namespace X | -f).
import YAML from 'yaml';
import { deepEqual, kindRef } from '../kinds.ts';
import { namespaceExists } from '../objects.ts';
import { KubectlError, NotInLab, fail, ok, type Ctx, type Outcome } from './common.ts';
import { merged, readManifests, resolveObject, store } from './manifests.ts';

export async function applyVerb(ctx: Ctx, create = false): Promise<Outcome> {
  if (ctx.a.flags.prune) throw new NotInLab('kubectl apply --prune is not in the lab');
  const objs = await readManifests(ctx);
  const out: string[] = [];
  const errs: string[] = [];
  const dry =
    ctx.a.flags['dry-run'] && ctx.a.flags['dry-run'] !== 'none'
      ? ` (${ctx.a.flags['dry-run'] === 'server' ? 'server ' : ''}dry run)`
      : '';
  const resolved = objs.map((o) => resolveObject(ctx, o)); // every object is checked before any is stored
  const newNamespaces = new Set(resolved.filter((r) => r.info.kind === 'Namespace').map((r) => r.obj.metadata.name));
  for (const r of resolved) {
    const name = r.obj.metadata.name;
    if (r.info.namespaced && !namespaceExists(ctx.st, r.ns) && !(dry && newNamespaces.has(r.ns))) {
      errs.push(`Error from server (NotFound): error when creating "STDIN": namespaces "${r.ns}" not found`);
      continue;
    }
    if (create && ctx.st.objects[r.key]) {
      errs.push(
        `Error from server (AlreadyExists): error when creating "STDIN": ${r.info.plural} "${name}" already exists`,
      );
      continue;
    }
    const { next } = merged(ctx, r);
    if (dry) {
      const cur = ctx.st.objects[r.key];
      out.push(
        `${kindRef(r.info)}/${name} ${!cur ? 'created' : deepEqual(next, cur.live) ? 'unchanged' : 'configured'}${dry}`,
      );
      continue;
    }
    out.push(`${kindRef(r.info)}/${name} ${store(ctx, r, next, r.obj)}`);
  }
  return errs.length ? fail(errs.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}

export async function createVerb(ctx: Ctx): Promise<Outcome> {
  if (ctx.a.files.length) return applyVerb(ctx, true);
  const [what, name] = ctx.a.args;
  if (what === 'namespace' || what === 'ns') {
    if (!name) throw new KubectlError('error: exactly one NAME is required');
    const doc = YAML.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return applyVerb({ ...ctx, a: { ...ctx.a, files: ['-'] }, call: { ...ctx.call, stdin: doc } } as Ctx, true).then(
      (o) => {
        if (o.code === 0) ctx.dirty = true;
        return o;
      },
    );
  }
  throw new NotInLab(`kubectl create ${what ?? ''}: the lab supports create namespace and create -f`);
}
