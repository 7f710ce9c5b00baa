// meshbook lab kubectl: patch -p (--type merge|strategic).
import YAML from 'yaml';
import { deepEqual, kindRef, mergePatch, type KObject } from '../kinds.ts';
import { KubectlError, NotInLab, fail, ok, type Ctx, type Outcome } from './common.ts';
import { pickStored } from './select.ts';

export function patchVerb(ctx: Ctx): Outcome {
  const type = String(ctx.a.flags.type ?? 'strategic');
  if (type === 'json') throw new NotInLab('kubectl patch --type json is not in the lab: use --type merge');
  if (!['merge', 'strategic'].includes(type))
    throw new KubectlError(`error: --type must be one of [json merge strategic], not "${type}"`);
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
