// The preflight every runbook with VMs starts with (each runbook's 01 step names the
// article section it mirrors): before any change, SSH answers, we are root, the kernel,
// and the distro from /etc/os-release (facts the later steps use).
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { detect } from '../engine/distro.ts';

const preflight: Step = {
  id: '01-preflight',
  title: 'Preflight: SSH, root, kernel and distro',
  article: '',
  target: 'vm',
  gathersFacts: true,
  vm: () => ({
    probe: probe`
      echo "uid=$(id -u)"
      echo "kernel=$(uname -r)"
      echo "hostname=$(hostname)"
      echo '--- /etc/os-release'
      cat /etc/os-release
    `,
    interpret: (out, ctx) => {
      const [head, osr = ''] = out.stdout.split('--- /etc/os-release\n');
      const kv = Object.fromEntries(
        head
          .trim()
          .split('\n')
          .map((l) => l.split(/=(.*)/s).slice(0, 2)),
      );
      const lines = [`ssh ok: ${ctx.vm.user}@${ctx.vm.host}:${ctx.vm.port} (hostname ${kv.hostname})`];
      if (kv.uid !== '0')
        return {
          ok: false,
          lines: [...lines, `error: commands run as uid ${kv.uid}, not root; use user: root or passwordless sudo`],
        };
      lines.push(`root: yes; kernel ${kv.kernel}`);
      const d = detect(osr);
      if (!d.profile) return { ok: false, lines: [...lines, `error: ${d.error}`] };
      if (ctx.vm.distro && ctx.vm.distro !== d.profile.id) {
        return {
          ok: false,
          lines: [
            ...lines,
            `error: inventory declares distro ${ctx.vm.distro} but /etc/os-release ` +
              `says ${d.profile.id} (ID=${d.id} VERSION_ID=${d.versionId}); fix the inventory`,
          ],
        };
      }
      lines.push(`distro ${d.profile.id} (ID=${d.id} VERSION_ID=${d.versionId}, ${d.profile.family} family)`);
      return { ok: true, lines, facts: { distro: d.profile.id, family: d.profile.family, kernel: kv.kernel } };
    },
  }),
};
export default preflight;
