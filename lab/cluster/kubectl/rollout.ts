// meshbook lab kubectl: rollout status|restart and scale of a Deployment (deploy/NAME).
import { sleep } from '../../sys.ts';
import { resolveResource, type KObject } from '../kinds.ts';
import { parseDuration } from '../kubectl-args.ts';
import { deploymentPods } from '../pod-objects.ts';
import { reconcile } from '../controller.ts';
import { storedObjects } from '../objects.ts';
import { deploymentWorkload } from '../workloads.ts';
import { KubectlError, NotInLab, fail, ok, type Ctx, type Outcome } from './common.ts';

export function deploymentArg(ctx: Ctx, words: string[]): KObject {
  const w = words[0]?.includes('/') ? words[0] : words.length >= 2 ? `${words[0]}/${words[1]}` : '';
  const [t, n] = [w.slice(0, w.indexOf('/')), w.slice(w.indexOf('/') + 1)];
  if (!w || resolveResource(t)?.kind !== 'Deployment')
    throw new NotInLab(`kubectl ${ctx.a.verb} ${words.join(' ')}: the lab supports Deployments here (deploy/NAME)`);
  const o = storedObjects(ctx.st).find(
    (x) =>
      x.kind === 'Deployment' &&
      x.metadata.name === n &&
      (x.metadata.namespace ?? 'default') === (ctx.a.namespace ?? 'default'),
  );
  if (!o) throw new KubectlError(`Error from server (NotFound): deployments.apps "${n}" not found`);
  return o;
}

export function cannotRun(d: KObject): void {
  const w = deploymentWorkload(d);
  if (!w.ok) throw new NotInLab(w.reason);
}

export async function untilTrue(ctx: Ctx, test: () => boolean): Promise<boolean> {
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

export async function rolloutVerb(ctx: Ctx): Promise<Outcome> {
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
    tpl.metadata.annotations = {
      ...(tpl.metadata.annotations ?? {}),
      'kubectl.kubernetes.io/restartedAt': new Date().toISOString(),
    };
    d.metadata.generation = Number(d.metadata.generation ?? 1) + 1;
    ctx.dirty = true;
    return ok(`deployment.apps/${d.metadata.name} restarted`);
  }
  throw new NotInLab(`kubectl rollout ${sub}: the lab supports rollout status and rollout restart`);
}

export function scaleVerb(ctx: Ctx): Outcome {
  const d = deploymentArg(ctx, ctx.a.args);
  const n = Number(ctx.a.flags.replicas);
  if (!Number.isInteger(n) || n < 0)
    throw new KubectlError('error: --replicas=COUNT is required, and COUNT must be greater than or equal to 0');
  if (n > 20) throw new NotInLab(`kubectl scale --replicas=${n}: the lab runs at most 20 pods per Deployment`);
  d.spec.replicas = n;
  ctx.dirty = true;
  return ok(`deployment.apps/${d.metadata.name} scaled`);
}
