// What the lab does with the traffic-shift steps (article 4): its VMs have no container
// engine (the lab inventory gives them runtime: process, which runs the same app with the
// VM's node), and a lab built with --no-cluster has nothing behind the hello3-svc address.
import type { VmLabRule } from '../../scripts/engine/types.ts';
import { vmVersion } from '../../scripts/traffic-shift/common.ts';

/** The lab without its cluster (lab up --no-cluster). */
const noCluster = (env: Record<string, string>) => env.LAB_CLUSTER !== '1';

export const trafficShiftRules: Record<string, VmLabRule> = {
  '01-preflight': {
    // no docker on a runtime: docker VM is what the lab has (its step 05 is "not in lab")
    inLab: (real) => {
      const a = real();
      return {
        ...a,
        interpret: (out, ctx) => {
          if (ctx.vm.runtime === 'process' || !/^docker=no$/m.test(out.stdout)) return a.interpret!(out, ctx);
          const r = a.interpret!({ ...out, stdout: out.stdout.replace(/^docker=no$/m, 'docker=yes') }, ctx);
          return r.ok
            ? {
                ...r,
                lines: r.lines.map((l) =>
                  l === 'docker: installed' ? 'docker: absent (the lab has no container engine)' : l,
                ),
              }
            : r;
        },
      };
    },
  },
  '05-hello2-on-vms': {
    notInLab: (ctx) =>
      ctx.vm.runtime !== 'process' && !('problem' in vmVersion(ctx.vm))
        ? 'the lab has no container engine; give the VM runtime: ' +
          'process in the inventory to run the same app as a Node process'
        : undefined,
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
