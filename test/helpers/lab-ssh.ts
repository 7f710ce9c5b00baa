// Reaching a lab VM from a test the way an operator would: ssh from the lab's workstation
// namespace with the lab's key and known_hosts, the script on stdin.
import fs from 'node:fs';
import path from 'node:path';
import { $, type ProcessOutput } from 'zx';

export interface TestLab {
  prefix: string;
  dir: string;
  inventoryFile: string;
}

export function vmHost(lab: TestLab, name: string): string {
  const inv = fs.readFileSync(lab.inventoryFile, 'utf8');
  return inv.match(new RegExp(`name: ${name}\\n\\s+host: (\\S+)`))![1];
}

export function sshVm(lab: TestLab, knownHosts: string, name: string, script: string): Promise<ProcessOutput> {
  return $({
    input: script,
    nothrow: true,
    quiet: true,
  })`ip netns exec ${`${lab.prefix}-ws`} ssh -T -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ${`UserKnownHostsFile=${knownHosts}`} -i ${path.join(lab.dir, 'id_ed25519')} ${`root@${vmHost(lab, name)}`} bash -s`;
}

/** SSH_KNOWN_HOSTS from a lab env file. */
export const knownHostsOf = (envFile: string) => fs.readFileSync(envFile, 'utf8').match(/^SSH_KNOWN_HOSTS=(.*)$/m)![1];
