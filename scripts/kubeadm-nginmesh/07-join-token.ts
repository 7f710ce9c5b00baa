// Article: the `kubeadm join --token ... --discovery-token-ca-cert-hash ...` line kubeadm
// init prints, which the article copies to each worker by hand. Here the control plane
// makes a fresh bootstrap token (valid 15 minutes) only when a worker still has to join:
// `kubeadm token create --print-join-command` prints it on the control plane, the output
// comes back over SSH, and the join command is registered as a secret (redacted from every
// line meshbook prints) and kept in the run's shared facts, in memory only. It reaches the
// workers only inside their ssh stdin script (step 08), never an argument list, a log, a
// plan or the state journal.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { registerSecret } from '../engine/redact.ts';
import { failWith, isRoles, rolesFor } from './common.ts';
import { JOIN_FACT, joinStatus, parseJoinCommand } from './join.ts';

export const TOKEN_TTL = '15m';

const step: Step = {
  id: '07-join-token',
  title: 'A bootstrap token for the workers (kept secret, in memory)',
  article: '在每台工作节点上执行kubeadm join (the join command)',
  notes: [
    'the article copies the join line (with its token) by hand; here it is made on demand ' +
      '(TTL 15 min), kept in memory as a secret, and sent to the workers only on ssh stdin',
    'under --dry-run no token is made (making one is a change); step 08 then shows what it would send',
  ],
  target: 'vm',
  gathersFacts: true,
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane !== ctx.vm)
      return { skip: `a worker: the token is made on the control plane ${roles.controlPlane.name}` };
    if (!roles.workers.length) return { skip: 'no workers in the inventory: nothing joins' };
    const status = joinStatus(ctx.cluster);
    if (status && status.checked.length && !status.pending.length)
      return { skip: `every worker has joined (${status.checked.join(', ')}): no token needed` };
    if (ctx.dryRun) return { skip: 'dry run: no bootstrap token is made (that would be a change)' };
    return {
      probe: probe`kubeadm token create --print-join-command --ttl ${TOKEN_TTL} --description ${'meshbook kubeadm-nginmesh: workers join'}`,
      interpret: (out) => {
        registerSecret(out.stdout.trim());
        for (const l of out.stdout.split('\n')) registerSecret(l.trim());
        if (out.code !== 0)
          return { ok: false, lines: [`error: kubeadm token create failed (exit ${out.code}) on ${ctx.vm.name}`] };
        const info = parseJoinCommand(out.stdout);
        if ('error' in info) return { ok: false, lines: [`error: ${info.error}`] };
        ctx.cluster[JOIN_FACT] = info;
        const pending = status?.pending.length
          ? status.pending.join(', ')
          : roles.workers.map((w) => w.name).join(', ');
        return {
          ok: true,
          lines: [
            `made a bootstrap token (TTL ${TOKEN_TTL}) for ${pending}; API ` +
              `server ${info.endpoint}; the join command stays in memory and is never shown`,
          ],
        };
      },
    };
  },
};
export default step;
