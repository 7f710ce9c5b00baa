// What a step sent to a host and what came back, as the ledger keeps it: the command as
// shown (secrets masked, as `plan` shows it), its exit code and the tails of its output
// (masked on the way in). A verifier's JSON result in a command's output is kept whole.
import type { RemoteResult } from '../engine/types.ts';
import { redact } from '../engine/redact.ts';

export type SentKind = 'probe' | 'check' | 'change' | 'verify';

export interface Sent {
  kind: SentKind;
  cmd: string;
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
  notInLab?: string;
  /** the verifier's full result, when the command was `meshbook verify traffic --json` */
  verify?: Record<string, unknown>;
}

const TAIL_LINES = 20;
const TAIL_CHARS = 4000;

/** The last lines of an output (at most TAIL_LINES lines and TAIL_CHARS characters), masked. */
export function outputTail(s: string): string {
  const lines = redact(s).trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
  return lines.length > TAIL_CHARS ? `…${lines.slice(-TAIL_CHARS)}` : lines;
}

/** The verifier's result object in a command's stdout (its --json line), if there is one. */
export function verifierResult(stdout: string): Record<string, unknown> | undefined {
  for (const l of stdout.split('\n').reverse()) {
    if (!l.startsWith('{') || !l.includes('"tool":"meshbook verify traffic"')) continue;
    try {
      const r = JSON.parse(l) as Record<string, unknown>;
      if (r.tool === 'meshbook verify traffic') return r;
    } catch {
      // not JSON after all: an ordinary line
    }
  }
  return undefined;
}

/** One command's record: shown text, exit code, masked output tails, time taken. */
export function sentOf(kind: SentKind, cmd: string, r: RemoteResult, t0: number): Sent {
  const verify = verifierResult(r.stdout);
  return {
    kind,
    cmd: redact(cmd),
    code: r.code,
    ms: Math.round(performance.now() - t0),
    stdout: verify ? '(the verifier result: see the verify-result event)' : outputTail(r.stdout),
    stderr: outputTail(r.stderr),
    ...(r.timedOut ? { timedOut: true } : {}),
    ...(r.notInLab ? { notInLab: r.notInLab } : {}),
    ...(verify ? { verify } : {}),
  };
}
