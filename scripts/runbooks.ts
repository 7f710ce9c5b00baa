// The runbooks meshbook knows, in the order of the articles.
import type { Runbook } from './engine/types.ts';
import asmVmProxy from './asm-vm-proxy/index.ts';
import istioVm from './istio-vm/index.ts';
import kubeadmNginmesh from './kubeadm-nginmesh/index.ts';
import trafficShift from './traffic-shift/index.ts';
import bookinfo from './bookinfo/index.ts';

export const RUNBOOKS: Runbook[] = [asmVmProxy, istioVm, kubeadmNginmesh, trafficShift, bookinfo];

export function findRunbook(name: string): Runbook {
  const rb = RUNBOOKS.find((r) => r.name === name);
  if (!rb) throw new Error(`unknown runbook ${JSON.stringify(name)}; known: ${RUNBOOKS.map((r) => r.name).join(', ')}`);
  return rb;
}
