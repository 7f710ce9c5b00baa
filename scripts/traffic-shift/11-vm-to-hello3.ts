// Article §1 "驗證虛擬機器對hello3 POD和hello3 service的訪問" (the VMs reach hello3): from every
// VM, GET /hello/svc_testing_msg on hello3-svc.<HELLO_NS>.svc.cluster.local:8001, through the
// hosts line of 09, reported as one row of the reachability matrix. Read-only; what is fixed
// against the article: the notes (a pod IP also changes with every restart). bash's
// /dev/tcp is used, so the VM needs no curl.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { renderMatrix } from './matrix.ts';
import { HELLO_PORT, hints, svcHost } from './common.ts';

export const TARGET = `hello3-svc:${HELLO_PORT}`;

/** The probe's output (status=/body= or rc=/error= lines) as a matrix row. */
export function interpretHello3(stdout: string, source: string): { ok: boolean; lines: string[] } {
  const kv = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  let ok = false;
  let detail: string;
  if (kv.status !== undefined) {
    ok = /^HTTP\/1\.[01] 200\b/.test(kv.status) && /^Hello /.test(kv.body ?? '');
    detail = ok ? kv.body : `${kv.status || 'no status line'}: ${kv.body ?? ''}`;
  } else detail = kv.error || `no answer (exit ${kv.rc ?? '?'})`;
  return {
    ok,
    lines: [...renderMatrix([{ source, target: TARGET, ok, detail }], 'VM -> hello3'), ...(ok ? [] : hints([detail]))],
  };
}

const step: Step = {
  id: '11-vm-to-hello3',
  title: 'Check that every VM reaches hello3-svc',
  article: '§1 驗證虛擬機器對hello3 POD和hello3 service的訪問 (VMs reach hello3)',
  notes: [
    "the article checks hello3-svc in namespace trace-hello (another demo's); HELLO_NS is used",
    'the pod-IP check is left out: the Service is what hello2 calls',
  ],
  target: 'vm',
  vm: (ctx) => ({
    // one bounded subprocess (timeout bash, for the connect); the answer is taken apart
    // with parameter expansion, not head/tr/sed pipelines (a fleet runs this on every VM)
    probe: probe`
      name=${svcHost(ctx.env, 'hello3-svc')}
      if out=$(timeout 6 bash -c 'exec 3<>"/dev/tcp/$1/8001" && printf "GET /hello/svc_testing_msg HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 && { IFS= read -r -d "" raw <&3 || true; printf "%s" "$raw"; }' hello3-probe "$name" 2>&1); then
        out=\${out//$'\r'/}
        echo "status=\${out%%$'\n'*}"
        body=""; if [[ $out == *$'\n\n'* ]]; then body=\${out#*$'\n\n'}; body=\${body%%$'\n'*}; fi
        echo "body=$body"
      else
        rc=$?
        echo "rc=$rc"
        last=""; mapfile -t lines <<< "\${out//$'\r'/}"; for l in "\${lines[@]}"; do if [ -n "$l" ]; then last=$l; fi; done
        echo "error=$last"
      fi
    `,
    interpret: (out, c) => interpretHello3(out.stdout, c.vm.name),
  }),
};
export default step;
