// meshbook lab kubectl: wait --for=condition=Ready|Available|delete|jsonpath={...}=VALUE.
import { alive } from '../../sys.ts';
import { kindRef } from '../kinds.ts';
import { INGRESS, storedObjects } from '../objects.ts';
import { deploymentPods } from '../pod-objects.ts';
import { jsonpath } from '../jsonpath.ts';
import { parseDuration } from '../kubectl-args.ts';
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
  if (f.startsWith('jsonpath=')) return waitJsonpath(ctx, f.slice('jsonpath='.length));
  if (!m)
    throw new NotInLab(
      `kubectl wait --for=${f}: the lab supports --for=condition=Ready (pods), ` +
        '--for=condition=Available (deployments), --for=delete and --for=jsonpath={...}=VALUE',
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

/** --for=jsonpath='{.a.b}=VALUE' on the named objects as `get` shows them; --timeout=0s checks once. */
async function waitJsonpath(ctx: Ctx, spec: string): Promise<Outcome> {
  const m = /^'?(\{.*\})'?=(.*)$/.exec(spec);
  if (!m) throw new NotInLab(`kubectl wait --for=jsonpath=${spec}: the lab supports jsonpath={...}=VALUE only`);
  const [expr, want] = [m[1], m[2].replace(/^'(.*)'$/, '$1')];
  const ns = ctx.a.namespace ?? 'default';
  const groups = targets(ctx.a.args);
  const sel = selectorOf(ctx);
  const found = () =>
    groups.flatMap((g) =>
      listKind(ctx, g.info, g.info.namespaced ? ns : undefined)
        .filter((o) => (g.names.length ? g.names.includes(o.metadata.name) : sel(o)))
        .map((o) => ({ ref: `${kindRef(g.info)}/${o.metadata.name}`, o })),
    );
  const named = groups.flatMap((g) => g.names.map((n) => ({ g, n })));
  for (const { g, n } of named)
    if (!found().some((x) => x.ref === `${kindRef(g.info)}/${n}`))
      return fail(`Error from server (NotFound): ${g.info.plural} "${n}" not found`);
  const met = () => found().every((x) => jsonpath(expr, x.o) === want);
  const once = parseDuration(ctx.a.flags.timeout) === 0;
  if (!(once ? met() : await untilTrue(ctx, met))) return fail('error: timed out waiting for the condition');
  return ok(
    found()
      .map((x) => `${x.ref} condition met`)
      .join('\n'),
  );
}
