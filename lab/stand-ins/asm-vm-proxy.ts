// What the lab does with the asm-vm-proxy steps (article 1): it has no container engine
// and no package mirror, so Docker is not installed and the proxy container does not run;
// the proxy's interception rules are set for real instead, so 05-check-interception checks
// real rules.
import fs from 'node:fs';
import type { VmLabRule } from '../../scripts/engine/types.ts';
import { probe, mutate, Raw } from '../../scripts/engine/sh.ts';
import { repoPath } from '../../scripts/engine/repo.ts';

const ISTIO_IPTABLES = repoPath('vm', 'istio-iptables.sh');

export const asmVmProxyRules: Record<string, VmLabRule> = {
  '02-install-docker': {
    notInLab: 'the lab has no container engine and no package mirrors; this would run the install shown in the plan',
  },
  '04-run-proxy': {
    notInLab: 'the lab has no container engine to run the proxy image',
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
