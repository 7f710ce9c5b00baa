// meshbook lab kubectl: label and annotate (k=v, k-, --overwrite).
import { clone, deepEqual, kindRef } from '../kinds.ts';
import { KubectlError, NotInLab, fail, ok, type Ctx, type Outcome } from './common.ts';
import { pickStored } from './select.ts';

export function metaVerb(ctx: Ctx, field: 'labels' | 'annotations'): Outcome {
  const ops = ctx.a.args.filter((w) => /^[\w./-]+=/.test(w) || /^[\w./-]+-$/.test(w));
  const words = ctx.a.args.filter((w) => !ops.includes(w));
  if (!ops.length)
    throw new KubectlError(`error: at least one ${field === 'labels' ? 'label' : 'annotation'} update is required`);
  const { picked, missing } = pickStored(ctx, words);
  const out: string[] = [];
  for (const p of picked) {
    if (p.info.kind === 'Pod')
      throw new NotInLab('changing labels of a running pod is not in the lab: change the Deployment');
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
