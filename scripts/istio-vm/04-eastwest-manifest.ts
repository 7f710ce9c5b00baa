// Article "部署东西向开关" (east-west gateway), first half of
//   samples/multicluster/gen-eastwest-gateway.sh --single-cluster | istioctl install -y -f -
// The pipe joins two local processes: here the generator runs on its own (read-only, so
// also under --dry-run), its output is checked (one IstioOperator exposing 15012) and kept
// for 05, which feeds it to istioctl on stdin. SINGLE_CLUSTER=1 is set as well: releases
// before the --single-cluster flag existed read that variable instead.
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { withFacts } from './common.ts';
import { checkEastWestIop } from './parse.ts';

export const genScript = (env: Record<string, string>) =>
  path.join(env.ISTIO_DIR, 'samples/multicluster/gen-eastwest-gateway.sh');

const step: Step = {
  id: '04-eastwest-manifest',
  title: 'Generate the east-west gateway IstioOperator',
  article: '部署东西向开关 (east-west gateway)',
  notes: [
    'the article writes --single-cluster and -y -f - with Unicode ' +
      'hyphens (U+2010) that bash does not read as options: plain ASCII here',
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => ({
    probe: probeCmd(['env', 'SINGLE_CLUSTER=1', 'bash', genScript(ctx.env), '--single-cluster']),
    interpret: (out) => {
      if (out.code !== 0)
        return {
          ok: false,
          lines: [
            `error: ${genScript(ctx.env)} ` +
              `exited ${out.code}: ${(out.stderr || out.stdout).trim().split('\n').pop()}; check ISTIO_DIR`,
          ],
        };
      const c = checkEastWestIop(out.stdout);
      if (c.error) return { ok: false, lines: [`error: ${c.error}`] };
      return { ok: true, lines: c.lines, facts: withFacts(ctx.facts, { eastwestIop: out.stdout }) };
    },
  }),
};
export default step;
