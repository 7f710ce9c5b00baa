// Article §3 "启动参数" (launch parameters): the env file /opt/asm_vm_proxy/asm_vm_proxy.env
// on every VM. It holds a cloud secret, so it is created 0600 before a byte is written
// (temp file in the same directory, chmod, content, rename), and the secret reaches the
// VM only inside the script on ssh's stdin (printf is a bash builtin: no argv).
// Plain KEY=value lines: docker --env-file keeps quotes literally, so values that would
// need quoting were rejected when the inputs were checked.
import crypto from 'node:crypto';
import type { Step } from '../engine/types.ts';
import { probe, mutate, Secret } from '../engine/sh.ts';
import { ENV_FILE, ENV_KEYS } from './common.ts';

export function envLines(env: Record<string, string>): Array<string | Secret> {
  return ENV_KEYS.map((k) => (k === 'ACCESS_KEY_SECRET' ? new Secret(k, `${k}=${env[k]}`) : `${k}=${env[k]}`));
}

const step: Step = {
  id: '03-env-file',
  title: 'Write the proxy env file (0600)',
  article: '§3 启动参数 (launch parameters)',
  notes: [
    'the article saves the file with default permissions; it holds ' +
      'ACCESS_KEY_SECRET, so it is made 0600 before it is written',
  ],
  target: 'vm',
  vm: (ctx) => {
    const lines = envLines(ctx.env);
    const content = lines.map((l) => (l instanceof Secret ? l.value : l)).join('\n') + '\n';
    const digest = new Secret('sha256 of the desired file', crypto.createHash('sha256').update(content).digest('hex'));
    return {
      check: probe`
        f=${ENV_FILE}
        if [ ! -f "$f" ]; then echo "$f is absent"; exit 10; fi
        mode=$(stat -c %a "$f")
        if [ "$mode" != 600 ]; then echo "$f has mode $mode, not 600"; exit 10; fi
        if [ "$(sha256sum < "$f" | cut -d' ' -f1)" != ${digest} ]; then echo "$f differs from the inputs"; exit 10; fi
        echo "$f is up to date (mode 600)"
      `,
      apply: mutate`
        install -d -m 0755 /opt/asm_vm_proxy
        printf '%s\n' ${lines} | write_file ${ENV_FILE} 0600
        echo 'wrote' ${ENV_FILE} '(mode 600)'
      `,
      verify: probe`test "$(stat -c %a ${ENV_FILE})" = 600`,
    };
  },
};
export default step;
