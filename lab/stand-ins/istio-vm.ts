// What the lab does with the istio-vm steps (article 2): it has no istiod, no Istio release
// (istioctl, samples/), no package mirror and no systemd. The istiod-side steps are "not in
// lab"; the VM-side steps run for real with stand-ins of istioctl's files
// (istio-vm-files.ts); the sidecar package, its user, the service and its log are "not in
// lab". 13-reach-node runs as written: a node that does not answer fails it.
import type { ClusterLabRule, VmLabRule } from '../../scripts/engine/types.ts';
import { Secret } from '../../scripts/engine/sh.ts';
import { ivFacts, nodeIp } from '../../scripts/istio-vm/common.ts';
import { installFiles } from '../../scripts/istio-vm/14-install-files.ts';
import { hostsLine } from '../../scripts/istio-vm/16-hosts.ts';
import { STAND_IN_MARK, labVmFiles } from './istio-vm-files.ts';

/** Why the istiod-side steps never run in the lab, even when the lab has a cluster that
 *  takes kubectl commands: it has no istiod and no Istio release (istioctl, samples/). */
export const NO_ISTIOD =
  'the lab has no istiod and no Istio release (istioctl, samples/): ' +
  'the VM steps use lab stand-ins for what this step produces';

/** 13-reach-node in a lab built without its cluster. */
export const NO_NODE = (node: string | undefined) =>
  `the lab was built without its cluster (lab up --no-cluster): no node answers at ${node ?? 'NODE_IP'}; ` +
  'set REACH_PORT to a port something in the lab serves there to check the path anyway';

const notRun = (why: string): ClusterLabRule => ({ inLab: () => ({ notInLab: why }) });
const vm = (rule: VmLabRule) => rule;

export const istioVmRules: Record<string, VmLabRule | ClusterLabRule> = {
  '04-eastwest-manifest': notRun(NO_ISTIOD),
  '05-eastwest-gateway': notRun(NO_ISTIOD),
  '06-expose-istiod': notRun(NO_ISTIOD),
  '09-workload-files': notRun(
    `istioctl is not in the lab (no istiod to issue a token): 14-install-files sends files marked "${STAND_IN_MARK}"`,
  ),
  '11-istiod-address': notRun(
    'the lab has no east-west gateway (no istiod): the VMs route via NODE_IP and get the lab stand-in files',
  ),
  // the step runs as written (nothing answers: failed); a lab without its cluster has no node
  // at NODE_IP, so unless REACH_PORT names a port to try, there is nothing to reach
  '13-reach-node': vm({
    inLab: (real, ctx) =>
      ctx.env.LAB_CLUSTER !== '1' && !ctx.env.REACH_PORT && !ivFacts(ctx.cluster).istiod?.nodePort
        ? { notInLab: NO_NODE(nodeIp(ctx.cluster, ctx.env)) }
        : real(),
  }),
  '14-install-files': vm({
    inLab: (real, ctx) => {
      const f = ivFacts(ctx.cluster);
      if (f.vmFiles && f.workDir) return real();
      if (!ctx.env.LAB_ISTIO_TOKEN)
        return { skip: 'LAB_ISTIO_TOKEN is not set: run `meshbook lab up` again to refresh the lab env' };
      return installFiles(
        labVmFiles(ctx.env, nodeIp(ctx.cluster, ctx.env)),
        new Secret('istio-token', ctx.env.LAB_ISTIO_TOKEN),
        'lab stand-ins: these files were made by meshbook for the lab, ' +
          'NOT by istioctl (the lab has no istiod); they cannot join a mesh',
      );
    },
  }),
  '15-sidecar-package': {
    notInLab:
      'the lab has no package mirror and no network: the istio-sidecar package cannot be downloaded or installed',
  },
  '16-hosts': vm({
    inLab: (real, ctx) => {
      const f = ivFacts(ctx.cluster);
      if (f.vmFiles || f.workDir) return real();
      const node = nodeIp(ctx.cluster, ctx.env);
      if (!node) return { skip: 'NODE_IP is not set: run `meshbook lab up` again to refresh the lab env' };
      const files = labVmFiles(ctx.env, node);
      return hostsLine(files.istiodHost, files.hostsLine);
    },
  }),
  '17-ownership': {
    notInLab:
      'the istio-proxy user comes with the istio-sidecar package, which the lab cannot install (no package mirror)',
  },
  '18-start-istio': { notInLab: 'the lab has no systemd (and no istio-sidecar package to start)' },
  '19-check-logs': vm({
    notInLab: 'istio never runs in the lab (no package, no systemd): there is no istio.log to judge',
    // no istio.log is what the lab expects: its lines, not a failure
    inLab: (real) => {
      const a = real();
      return {
        ...a,
        interpret: (out, ctx) =>
          out.stdout.includes('--- istio.log')
            ? a.interpret!(out, ctx)
            : { ok: true, lines: out.stdout.trim().split('\n') },
      };
    },
  }),
  '20-workloadentry': notRun('the lab has no istiod to auto-register WorkloadEntries for the VMs'),
};
