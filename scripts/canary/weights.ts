// The canary's arithmetic: the steps (--steps 10,25,50,100) and each step's weights. At a
// step the canary version gets the step's share; the other versions share the rest in the
// proportions they had at the start (30/60/10 toward v3 at 50: v1 and v2 keep 1:2, exactly
// 16.67/33.33/50). Istio takes whole-number weights, so the rest is rounded by the largest
// remainder method (Hamilton's): every version gets the floor of its exact share, then the
// points still missing to 100 go one each to the largest fractional parts (ties: the version
// listed first). The canary's own share is the step's, exactly; the total is always 100.
import { VERSIONS, type Version, type Weights } from '../traffic-shift/common.ts';

/** `10,25,50,100` -> [10, 25, 50, 100], or the problem: whole numbers 1..100, increasing, ending at 100. */
export function parseSteps(raw: string): { steps: number[] } | { problem: string } {
  const items = raw.split(',').map((s) => s.trim());
  const show = JSON.stringify(raw);
  if (items.some((s) => !/^\d+$/.test(s)))
    return { problem: `--steps ${show}: give whole percents separated by commas, e.g. 10,25,50,100` };
  const steps = items.map(Number);
  if (steps.some((s) => s < 1 || s > 100))
    return { problem: `--steps ${show}: every step is a share from 1 to 100 percent` };
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]))
    return { problem: `--steps ${show}: the shares must increase from step to step` };
  if (steps[steps.length - 1] !== 100)
    return { problem: `--steps ${show}: the last step must be 100 (the canary is promoted when it takes all traffic)` };
  return { steps };
}

/** The exact (unrounded) weights at a step: `to` gets `share`, the others keep their proportions. */
export function exactWeights(start: Weights, to: Version, share: number): Record<Version, number> {
  const others = VERSIONS.filter((v) => v !== to);
  const rest = others.reduce((a, v) => a + start[v], 0);
  const out = { ...start };
  out[to] = share;
  for (const v of others) out[v] = rest > 0 ? ((100 - share) * start[v]) / rest : 0;
  // nothing else had traffic (the canary already had 100): the rest has nowhere to go
  if (rest === 0 && share < 100) throw new Error(`no version but ${to} has traffic to keep; nothing to shift from`);
  return out;
}

/** Whole-number weights summing to 100 (largest remainder; the canary's share is exact). */
export function stepWeights(start: Weights, to: Version, share: number): Weights {
  const exact = exactWeights(start, to, share);
  const out = Object.fromEntries(VERSIONS.map((v) => [v, Math.floor(exact[v])])) as Weights;
  let missing = 100 - VERSIONS.reduce((a, v) => a + out[v], 0);
  const byRemainder = VERSIONS.filter((v) => v !== to).sort(
    (a, b) =>
      exact[b] - Math.floor(exact[b]) - (exact[a] - Math.floor(exact[a])) || VERSIONS.indexOf(a) - VERSIONS.indexOf(b),
  );
  for (const v of byRemainder) {
    if (missing <= 0) break;
    if (exact[v] - Math.floor(exact[v]) > 0) {
      out[v] += 1;
      missing -= 1;
    }
  }
  return out;
}

/** `v1=17 v2=33 v3=50` */
export const showWeights = (w: Weights) => VERSIONS.map((v) => `${v}=${w[v]}`).join(' ');
/** `v1=16.67 v2=33.33 v3=50` (the exact shares before rounding) */
export const showExact = (w: Record<Version, number>) =>
  VERSIONS.map((v) => `${v}=${Number.isInteger(w[v]) ? w[v] : w[v].toFixed(2)}`).join(' ');
export const sameWeights = (a: Weights, b: Weights) => VERSIONS.every((v) => a[v] === b[v]);
