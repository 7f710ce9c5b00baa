// `meshbook canary --dry-run`: what a canary would do, read off the cluster, changing nothing:
// the starting weights, each step's weights (exact and rounded), the object applied at the
// first step and the commands sent. And the note after a run: the env file's WEIGHTS is what a
// rebuild applies, so a promotion it does not know about would be undone by the next rebuild.
import { stringify } from 'yaml';
import { showCmd } from '../engine/local.ts';
import type { ClusterProvider } from '../engine/types.ts';
import { expectArg, ns, weightsOf, type Weights } from '../traffic-shift/common.ts';
import type { DataPlane } from './data-plane.ts';
import type { CanaryRequest } from './run.ts';
import { readState, unfinished } from './state.ts';
import { applyCmd, getCmd, readVs, weightsOfVs, withWeights } from './virtual-service.ts';
import { exactWeights, sameWeights, showExact, showWeights, stepWeights } from './weights.ts';

export async function planText(req: CanaryRequest, cluster: ClusterProvider, dp: DataPlane): Promise<string> {
  const vs = await readVs(cluster, req.env);
  const live = weightsOfVs(vs, ns(req.env));
  const st = readState(req.envFile);
  const L = [`dry run: nothing is changed. Cluster: ${cluster.name}; data plane: ${dp.what}`];
  L.push(`hello2-vs now: ${showWeights(live)}   (read with: ${showCmd(getCmd(req.env))})`);
  if (st) L.push(`journal: the last canary toward ${st.to} is ${st.status} at ${showWeights(st.applied)}`);
  if (req.mode === 'rollback') {
    if (!st) return [...L, 'no canary has run with this env file: nothing to roll back'].join('\n');
    L.push(`--rollback would apply ${showWeights(st.start)}, confirm it on the data plane and verify it`);
    return L.join('\n');
  }
  if (req.mode === 'resume') {
    if (!st || !unfinished(st)) return [...L, 'no canary to resume with this env file'].join('\n');
    L.push(`--resume would continue toward ${st.to} at step ${st.passed + 2}/${st.steps.length}`);
    return L.join('\n');
  }
  const to = req.to!;
  const steps = req.steps.filter((s) => s > live[to]);
  L.push(`steps toward ${to} (other versions keep their proportions; whole percents by the largest remainder):`);
  for (const [i, s] of steps.entries()) {
    const w = stepWeights(live, to, s);
    L.push(
      `  ${i + 1}. ${showWeights(w)}   exact ${showExact(exactWeights(live, to, s))}   verify --expect ${expectArg(w)}`,
    );
  }
  if (!steps.length) return [...L, `  none: ${to} has ${live[to]} % already`].join('\n');
  const first = withWeights(vs, ns(req.env), stepWeights(live, to, steps[0]));
  L.push(
    '',
    'step 1 applies:',
    showCmd(applyCmd(req.env, first, 'hello2-vs with weights')).replace(/^# stdin.*\n/, ''),
  );
  L.push('', `then waits until the data plane has the weights: ${dp.command ? showCmd(dp.command) : dp.what}`);
  L.push(`limits: ${stringify(req.limits).trim().replaceAll('\n', ', ')}`);
  return L.join('\n');
}

/** Say so when the env file's WEIGHTS no longer matches what the canary left applied. */
export function weightsNote(env: Record<string, string>, applied: Weights, envFile: string): string | undefined {
  let w: Weights;
  try {
    w = weightsOf(env);
  } catch {
    return undefined;
  }
  if (sameWeights(w, applied)) return undefined;
  return (
    `note: ${envFile} has WEIGHTS=${expectArg(w)}, the cluster now ${expectArg(applied)}: ` +
    `a \`meshbook rebuild traffic-shift\` applies WEIGHTS again; set WEIGHTS=${expectArg(applied)} to keep these`
  );
}
