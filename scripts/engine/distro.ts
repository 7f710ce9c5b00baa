// The three distro profiles the articles use, and detection from /etc/os-release.
// The lab's VMs present the same os-release files (vm/profiles/<id>/os-release).
import { dotenv } from './lazy.ts';

export interface Profile {
  id: string; // alinux-2.1903 | centos-8 | ubuntu-20.04
  family: 'redhat' | 'debian';
  matches: (osr: Record<string, string>) => boolean;
}

export const PROFILES: Profile[] = [
  { id: 'alinux-2.1903', family: 'redhat', matches: (o) => o.ID === 'alinux' && /^2(\.|$)/.test(o.VERSION_ID ?? '') },
  { id: 'centos-8', family: 'redhat', matches: (o) => o.ID === 'centos' && /^8(\.|$)/.test(o.VERSION_ID ?? '') },
  { id: 'ubuntu-20.04', family: 'debian', matches: (o) => o.ID === 'ubuntu' && o.VERSION_ID === '20.04' },
];
export const PROFILE_IDS = PROFILES.map((p) => p.id);

export function profile(id: string): Profile {
  const p = PROFILES.find((x) => x.id === id);
  if (!p) throw new Error(`unknown distro profile ${JSON.stringify(id)}; known: ${PROFILE_IDS.join(', ')}`);
  return p;
}

/** os-release is shell-style KEY=value, which dotenv's parser reads (quotes stripped). */
export function parseOsRelease(text: string): Record<string, string> {
  return dotenv.parse(text);
}

export function detect(osReleaseText: string): { profile?: Profile; id: string; versionId: string; error?: string } {
  const o = parseOsRelease(osReleaseText);
  const id = o.ID ?? '';
  const versionId = o.VERSION_ID ?? '';
  const p = PROFILES.find((x) => x.matches(o));
  if (p) return { profile: p, id, versionId };
  return {
    id,
    versionId,
    error:
      `unknown distro ID=${JSON.stringify(id)} VERSION_ID=${JSON.stringify(versionId)} in /etc/os-release; ` +
      (`meshbook knows ${PROFILE_IDS.join(', ')}: declare one with ` +
        `\`distro:\` in the inventory only if the VM really is compatible`),
  };
}
