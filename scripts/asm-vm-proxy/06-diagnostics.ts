// Article §5 "诊断" (diagnose): on a VM where a step failed, the container's log and the
// proxy's istio.log, matched against the known failures. The article's `docker exec -it`
// needs a terminal; without -it it works over a plain SSH session.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { explain } from '../engine/known-failures.ts';

const step: Step = {
  id: '06-diagnostics',
  title: 'Diagnostics (only where a step failed)',
  article: '§5 诊断 (diagnose)',
  notes: ['`docker exec -it` needs a TTY: run without -it'],
  target: 'vm',
  when: 'on-failure',
  vm: () => ({
    probe: probe`
      if command -v docker >/dev/null 2>&1 && docker inspect asm_vm_proxy >/dev/null 2>&1; then
        echo '--- docker logs asm_vm_proxy (last 50 lines)'
        docker logs --tail 50 asm_vm_proxy 2>&1 || true
        echo '--- istio.log in the container (last 100 lines)'
        docker exec asm_vm_proxy tail -n 100 /var/log/istio/istio.log 2>&1 || true
      else
        echo 'no asm_vm_proxy container on this VM'
      fi
      if [ -f /var/log/istio/istio.log ]; then
        echo '--- /var/log/istio/istio.log (last 100 lines)'
        tail -n 100 /var/log/istio/istio.log
      fi
    `,
    interpret: (out) => {
      const lines = out.stdout.trim().split('\n');
      const k = explain(out.stdout);
      if (k) lines.push(`known cause: ${k.cause}; fix: ${k.fix}`);
      return { ok: true, lines };
    },
  }),
};
export default step;
