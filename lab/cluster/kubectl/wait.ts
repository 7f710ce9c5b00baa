// meshbook lab kubectl: wait --for=condition=Ready|Available|delete.
import { alive } from '../../sys.ts';
import { kindRef } from '../kinds.ts';
import { INGRESS, deploymentPods, storedObjects } from '../controller.ts';
import { NotInLab, fail, ok, type Ctx, type Outcome } from './common.ts';
import { cannotRun, untilTrue } from './rollout.ts';
import { listKind, pickStored, selectorOf, targets } from './select.ts';

export async function waitVerb(ctx: Ctx): Promise<Outcome> {
  const f = String(ctx.a.flags.for ?? '');
  const m = /^condition=(\w+)(?:=(\w+))?$/i.exec(f);
  if (f === 'delete') {
    const { picked } = pickStored(ctx, ctx.a.args);
    return picked.length ? fail('error: timed out waiting for the condition') : ok();
  }
  if (!m)
    throw new NotInLab(
      `kubectl wait --for=${f}: the lab supports --for=condition=Ready ` +
        `(pods), --for=condition=Available (deployments) and --for=delete`,
    );
  const cond = m[1].toLowerCase();
  const ns = ctx.a.namespace ?? 'default';
  const groups = targets(ctx.a.args);
  const sel = selectorOf(ctx);
  const lines: string[] = [];
  for (const g of groups) {
    const names = () =>
      g.names.length
        ? g.names
        : listKind(ctx, g.info, ns)
            .filter(sel)
            .map((o) => o.metadata.name);
    if (!names().length) return fail('error: no matching resources found');
    let test: (n: string) => boolean;
    if (g.info.kind === 'Pod' && cond === 'ready')
      test = (n) =>
        ctx.st.pods.some((p) => p.name === n && p.namespace === ns && p.ready && alive(p.pid1)) ||
        (n === INGRESS.pod && ns === INGRESS.namespace);
    else if (g.info.kind === 'Deployment' && (cond === 'available' || cond === 'ready')) {
      test = (n) => {
        const d = storedObjects(ctx.st).find(
          (o) => o.kind === 'Deployment' && o.metadata.name === n && o.metadata.namespace === ns,
        );
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
