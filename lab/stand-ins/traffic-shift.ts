// What the lab does with the traffic-shift steps (article 4): its first VMs have their own
// Docker daemon (lab/docker/) and run the article's `docker run` of step 05 as it is, with
// the lab's stand-in image (HELLO_IMAGE); a VM without a daemon (inventory runtime: process,
// beyond `lab up --docker-vms`) runs the same app as a Node process instead
// (hello2-process.ts). A lab built with --no-cluster has nothing behind the hello3-svc address.
import type { VmLabRule } from '../../scripts/engine/types.ts';
import { vmVersion } from '../../scripts/traffic-shift/common.ts';
import { processAction } from './hello2-process.ts';

/** The lab without its cluster (lab up --no-cluster). */
const noCluster = (env: Record<string, string>) => env.LAB_CLUSTER !== '1';

export const trafficShiftRules: Record<string, VmLabRule> = {
  '05-hello2-on-vms': {
    inLab: (real, ctx) => {
      const v = vmVersion(ctx.vm);
      if (ctx.vm.runtime !== 'process' || 'problem' in v) return real();
      return processAction(ctx, v.version);
    },
  },
  '11-vm-to-hello3': {
    notInLab: (ctx) =>
      ctx.lab && noCluster(ctx.env)
        ? 'this lab has no cluster (lab up --no-cluster): nothing answers ' +
          'at the hello3-svc address (the probe ran; its result is above)'
        : undefined,
    inLab: (real, ctx) => {
      const a = real();
      if (!noCluster(ctx.env)) return a;
      return {
        ...a,
        interpret: (out, c) => {
          const r = a.interpret!(out, c);
          return r.ok
            ? r
            : {
                ok: true,
                lines: [...r.lines, 'expected in a lab without its cluster: nothing answers for hello3-svc'],
              };
        },
      };
    },
  },
};
