// The lab's rules for the runbooks' steps, by step id ('runbook/step-id'): what the lab
// cannot do (not in lab, and why), its stand-ins, and where it reads a step's result its
// own way (scripts/engine/types.ts LabRule). A step file shows the article's step only;
// whoever runs runbooks against the lab passes these in (RunOptions.labRules, plan's
// labRules): the CLI and the tests. The engine never imports lab/.
import type { ClusterLabRule, LabRules, VmLabRule } from '../../scripts/engine/types.ts';
import { asmVmProxyRules } from './asm-vm-proxy.ts';
import { bookinfoRules } from './bookinfo.ts';
import { istioVmRules } from './istio-vm.ts';
import { kubeadmNginmeshRules } from './kubeadm-nginmesh.ts';
import { trafficShiftRules } from './traffic-shift.ts';

const byRunbook: Record<string, Record<string, VmLabRule | ClusterLabRule>> = {
  'asm-vm-proxy': asmVmProxyRules,
  bookinfo: bookinfoRules,
  'istio-vm': istioVmRules,
  'kubeadm-nginmesh': kubeadmNginmeshRules,
  'traffic-shift': trafficShiftRules,
};

export const LAB_RULES: LabRules = Object.fromEntries(
  Object.entries(byRunbook).flatMap(([rb, rules]) =>
    Object.entries(rules).map(([step, rule]) => [`${rb}/${step}`, rule]),
  ),
);
