// Article "接入准备" (preparation): the article lists the machines (two nodes, one VM) and
// checks them by hand. Before any change: SSH answers, we are root, the kernel, and the
// distro from /etc/os-release (the istio-sidecar package is an .rpm on the RedHat family
// and a .deb on the Debian family). The same check as every runbook's preflight (scripts/shared/preflight.ts).
import type { Step } from '../engine/types.ts';
import preflight from '../shared/preflight.ts';

const step: Step = {
  ...preflight,
  article: '接入准备 (preparation)',
  notes: [
    'the article downloads istioctl 1.11.3 but installs the 1.11.4 sidecar package: one ISTIO_VERSION is used for both',
  ],
};
export default step;
