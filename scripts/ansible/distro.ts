// The playbook's first task: the distro profile from /etc/os-release, with the same
// mapping as scripts/engine/distro.ts (test/ansible.test.ts runs it on every profile's
// os-release and compares with detect()).
import { PROFILE_IDS } from '../engine/distro.ts';

/** `ID:VERSION_ID` patterns (bash case) per profile, as PROFILES[].matches reads them. */
export const CASES: Record<string, string> = {
  'alinux-2.1903': 'alinux:2|alinux:2.*',
  'centos-8': 'centos:8|centos:8.*',
  'ubuntu-20.04': 'ubuntu:20.04',
};

for (const id of PROFILE_IDS)
  if (!CASES[id]) throw new Error(`scripts/ansible/distro.ts: no os-release pattern for the distro profile ${id}`);

export function detectScript(osRelease = '/etc/os-release'): string {
  return [
    'set -eu',
    `. ${osRelease}`,
    'case "${ID:-}:${VERSION_ID:-}" in',
    ...PROFILE_IDS.map((id) => `  ${CASES[id]}) echo ${id} ;;`),
    `  *) echo "unknown distro ID=\${ID:-} VERSION_ID=\${VERSION_ID:-} ` +
      `in ${osRelease}; meshbook knows ${PROFILE_IDS.join(', ')}" >&2; exit 1 ;;`,
    'esac',
  ].join('\n');
}
