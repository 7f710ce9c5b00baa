// meshbook lab kubectl: delete -f | KIND NAME... (a namespace takes its objects along).
import { kindRef, type KindInfo } from '../kinds.ts';
import { fail, ok, type Ctx, type Outcome } from './common.ts';
import { readManifests, resolveObject } from './manifests.ts';
import { pickStored } from './select.ts';

export async function deleteVerb(ctx: Ctx): Promise<Outcome> {
  let picked: Array<{ info: KindInfo; key: string; name: string }> = [];
  let missing: string[] = [];
  if (ctx.a.files.length) {
    for (const o of await readManifests(ctx)) {
      const r = resolveObject(ctx, o);
      if (ctx.st.objects[r.key]) picked.push({ info: r.info, key: r.key, name: r.obj.metadata.name });
      else
        missing.push(
          `Error from server (NotFound): error when deleting ` +
            `"STDIN": ${r.info.plural} "${r.obj.metadata.name}" not found`,
        );
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
        for (const [k, o] of Object.entries(ctx.st.objects))
          if (o.live.metadata.namespace === p.name) delete ctx.st.objects[k];
      }
      delete ctx.st.objects[p.key];
    }
    ctx.dirty = true;
    out.push(`${kindRef(p.info).split('.')[0]} "${p.name}" deleted`);
  }
  return missing.length ? fail(missing.join('\n'), 1, out.join('\n')) : ok(out.join('\n'));
}
