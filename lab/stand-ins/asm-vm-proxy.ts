// What the lab does with the asm-vm-proxy steps (article 1). A lab VM with its own Docker
// daemon (lab/docker/; inventory runtime: docker) runs the article's steps as they are:
// 02's check finds Docker answering, 04's `docker run` starts the lab's stand-in proxy image
// (ASM_VM_PROXY_IMAGE, lab/docker/proxy-stand-in.mjs: not the ASM proxy), whose container sets
// the interception rules in the VM, and 05 checks them. The lab has no package mirror: 02's
// install never runs (where the daemon does not answer, the step fails saying so). A VM
// without a daemon (beyond `lab up --docker-vms`): 02 and 04 are "not in lab", and for 04 the
// lab sets the proxy's interception rules itself (vm/istio-iptables.sh), so 05 checks real rules.
import fs from 'node:fs';
import type { HostCtx, VmLabRule } from '../../scripts/engine/types.ts';
import { probe, mutate, Raw } from '../../scripts/engine/sh.ts';
import { repoPath } from '../../scripts/engine/repo.ts';

const ISTIO_IPTABLES = repoPath('vm', 'istio-iptables.sh');
const hasDaemon = (ctx: HostCtx) => ctx.vm.runtime === 'docker';

export const asmVmProxyRules: Record<string, VmLabRule> = {
  '02-install-docker': {
    notInLab: (ctx) =>
      hasDaemon(ctx)
        ? undefined
        : 'this lab VM has no Docker daemon (lab up --docker-vms) and the lab no package mirrors; ' +
          'this would run the install shown in the plan',
    inLab: (real, ctx) => {
      const a = real();
      if (!hasDaemon(ctx) || a.skip) return a;
      return {
        ...a,
        consent: undefined,
        apply: mutate`
          echo 'lab: no package mirror to install from, and this VM should have its own Docker daemon: run meshbook lab up' >&2
          exit 1
        `,
      };
    },
  },
  '04-run-proxy': {
    notInLab: (ctx) =>
      hasDaemon(ctx) ? undefined : 'this lab VM has no Docker daemon to run the proxy image (lab up --docker-vms)',
    standIn: (ctx) => {
      const cidr = ctx.env.SERVICE_CIDR;
      return {
        what:
          `the interception rules the proxy sets (vm/istio-iptables.sh, ` +
          `Service CIDR ${cidr}), so the next step checks real rules`,
        check: probe`
          if iptables -t nat -S ISTIO_OUTPUT 2>/dev/null | grep -qF -- ${`-d ${cidr} -j ISTIO_REDIRECT`}; then echo 'interception rules present'; exit 0; fi
          echo 'interception rules absent'
          exit 10
        `,
        apply: mutate`
          SERVICE_CIDR=${cidr}
          ${new Raw(fs.readFileSync(ISTIO_IPTABLES, 'utf8').replace(/^#!.*\n/, ''), '# vm/istio-iptables.sh (see the file)')}
        `,
      };
    },
  },
};
