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
import { readState } from '../state.ts';
import { JsonPathError } from './jsonpath.ts';
import { reconcile, type Report } from './controller.ts';
import { readClusterState, saveClusterState, withClusterLock } from './state.ts';
import { applyVerb, createVerb } from './kubectl/apply.ts';
import {
  KubectlError,
  NotInLab,
  fail,
  line,
  notInLab,
  ok,
  type Call,
  type Ctx,
  type Outcome,
} from './kubectl/common.ts';
import { deleteVerb } from './kubectl/delete.ts';
import { diffVerb } from './kubectl/diff.ts';
import { execVerb, logsVerb } from './kubectl/exec.ts';
import { getVerb } from './kubectl/get.ts';
import { metaVerb } from './kubectl/label.ts';
import { patchVerb } from './kubectl/patch.ts';
import { rolloutVerb, scaleVerb } from './kubectl/rollout.ts';
import { waitVerb } from './kubectl/wait.ts';

export { fail, notInLab, ok, type Call, type Outcome } from './kubectl/common.ts';
export { unifiedDiff } from './kubectl/diff.ts';

const NO_CLUSTER = 'the lab has no cluster: run meshbook lab up (without --no-cluster)';

/** Run one kubectl verb against the lab cluster. */
export async function kubectl(call: Call): Promise<Outcome> {
  const a = call.args;
  const verb = a.verb;
  if (verb === 'version')
    return ok(
      `Client Version: meshbook lab provider (kubectl stand-in)\nServer ` +
        `Version: meshbook lab cluster (prefix ${call.cfg.prefix})`,
    );
  if (verb === 'auth' && a.args[0] === 'can-i') return ok('yes');
  const handler = VERBS[verb];
  if (!handler) {
    return notInLab(
      `kubectl ${verb || '(no verb)'} is not in the lab: its cluster ` +
        `supports ${Object.keys(VERBS).concat('version', 'auth can-i').join(', ')}`,
    );
  }
  try {
    return await withClusterLock(
      call.cfg,
      async () => {
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
      },
      Math.max(call.timeoutMs, 1000),
    );
  } catch (e) {
    if (e instanceof NotInLab) return notInLab(e.message);
    if (e instanceof KubectlError) return fail(e.message, e.code);
    if (e instanceof JsonPathError) return fail(`error: error parsing jsonpath: ${e.message}`);
    return fail(`error: lab cluster: ${(e as Error).message}`);
  }
}

/** After a change: Deployments the lab cannot run make the command "not in lab"; problems and data plane
 *  warnings are shown. */
function finish(out: Outcome, report: Report, ctx: Ctx): Outcome {
  const touched = new Set(ctx.touched ?? []);
  const mine = report.notInLab.filter((r) => [...touched].some((t) => r.startsWith(`deployment ${t}:`)));
  if (mine.length) return notInLab(mine.join('; '));
  const extra = [
    ...report.problems.map((p) => `warning: ${p}`),
    ...report.warnings.map((w) => `warning: lab data plane: ${w}`),
  ];
  return { ...out, stdout: line(out.stdout + extra.join('\n')) };
}

function clusterInfo(ctx: Ctx): Outcome {
  return ok(
    `Kubernetes control plane is the meshbook lab cluster (prefix ${ctx.cfg.prefix}): node ${ctx.st.node.netns} ` +
      `at ${ctx.st.plan.nodeAddress}, Service CIDR ${ctx.st.plan.serviceCidr}, pod CIDR ${ctx.st.plan.podCidr}`,
  );
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
