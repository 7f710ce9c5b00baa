// meshbook lab: may the lab run here (Linux, root, the tools)? Changes nothing.
import path from 'node:path';
import { LabError } from './config.ts';
import { CLEAN_ENV, statExists } from './sys.ts';

const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['ssh-keygen', 'openssh-client'],
  ['sshd', 'openssh-server'],
];

/** Root on Linux with the tools at hand, or one clear LabError. Changes nothing. */
export function preflight(action = 'up'): void {
  if (process.platform !== 'linux') {
    throw new LabError(`the lab needs Linux network namespaces; this machine runs ${process.platform}`);
  }
  if (process.getuid?.() !== 0) {
    const why = 'the lab is network namespaces, veth links and mounts';
    throw new LabError(`must run as root: ${why} (try: sudo meshbook lab ${action})`);
  }
  const dirs = (CLEAN_ENV.PATH ?? '').split(':');
  for (const [bin, pkg] of TOOLS) {
    if (!dirs.some((d) => statExists(path.join(d, bin)))) {
      throw new LabError(`${bin} not found: install the Debian package ${pkg} (apt-get install ${pkg})`);
    }
  }
}
