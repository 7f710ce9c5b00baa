// Commands on the runner's own machine (kubectl, istioctl, aliyun): argument arrays
// through zx, stdin for manifests, a bounded time. KUBE_CONTEXT selects the context.
import { quote, zx } from './lazy.ts';
import type { LocalCmd, RemoteResult } from './types.ts';

export function kubectl(env: Record<string, string>, ...args: string[]): string[] {
  return ['kubectl', ...(env.KUBE_CONTEXT ? ['--context', env.KUBE_CONTEXT] : []), ...args];
}

export function istioctl(env: Record<string, string>, ...args: string[]): string[] {
  return ['istioctl', ...(env.KUBE_CONTEXT ? ['--context', env.KUBE_CONTEXT] : []), ...args];
}

export const probeCmd = (argv: string[], more: Partial<LocalCmd> = {}): LocalCmd => ({ kind: 'probe', argv, ...more });
export const mutateCmd = (argv: string[], more: Partial<LocalCmd> = {}): LocalCmd => ({
  kind: 'mutate',
  argv,
  ...more,
});

/** `kubectl apply -f -` of a rendered manifest, with `kubectl diff` as its check. */
export function applyManifest(env: Record<string, string>, m: { file: string; text: string }, ns?: string) {
  const nsArgs = ns ? ['-n', ns] : [];
  return {
    check: probeCmd(kubectl(env, 'diff', ...nsArgs, '-f', '-'), {
      stdin: m.text,
      stdinLabel: `${m.file} (rendered)`,
      changeCodes: [1],
    }),
    apply: mutateCmd(kubectl(env, 'apply', ...nsArgs, '-f', '-'), {
      stdin: m.text,
      stdinLabel: `${m.file} (rendered)`,
    }),
  };
}

export function showCmd(c: LocalCmd): string {
  const line = c.argv.map((a) => quote(a)).join(' ');
  const withDir = c.cwd ? `(cd ${quote(c.cwd)} && ${line})` : line;
  if (c.stdin === undefined) return withDir;
  // the exact bytes sent on stdin, as a heredoc: the plan stays valid bash and reviewable
  const label = c.stdinLabel ? `# stdin: ${c.stdinLabel}\n` : '';
  return `${label}${withDir} <<'MESHBOOK_STDIN'\n${c.stdin.trimEnd()}\nMESHBOOK_STDIN`;
}

export async function runLocal(c: LocalCmd, timeoutMs: number): Promise<RemoteResult> {
  let out;
  try {
    out = await zx.$({ input: c.stdin ?? '', nothrow: true, quiet: true, timeout: timeoutMs, cwd: c.cwd })`${c.argv}`;
  } catch (e) {
    return { code: 127, stdout: '', stderr: `${c.argv[0]}: ${(e as Error).message}` };
  }
  const timedOut = out.exitCode === null;
  const notFound = out.exitCode === 127;
  return {
    code: out.exitCode ?? 124,
    stdout: out.stdout,
    stderr: timedOut
      ? `${out.stderr}\ntimed out after ${timeoutMs} ms`
      : notFound
        ? `${out.stderr}\n${c.argv[0]}: command not found on this machine`
        : out.stderr,
    timedOut,
  };
}
