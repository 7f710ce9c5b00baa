// Article §1 "示例环境" (example environment): three VMs of three distros. Before any
// change: SSH answers, we are root, the kernel, and the distro from /etc/os-release.
import type { Step } from '../engine/types.ts';
import preflight from '../shared/preflight.ts';

const step: Step = { ...preflight, article: '§1 示例环境 (example environment)' };
export default step;
