// The terminal summary stays readable: a table while it fits, past the width (a fleet of 30
// or 200 hosts) one line per step with the count per status and the hosts that need a look.
import test from 'ava';
import { summaryTable } from '../scripts/engine/report.ts';
import type { RunReport } from '../scripts/engine/runner.ts';
import type { Status } from '../scripts/engine/types.ts';

// eslint-disable-next-line no-control-regex -- ESC starts an ANSI colour sequence
const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

function fleet(n: number, failing: string[]): RunReport {
  const hosts = Array.from({ length: n }, (_, i) => `vm${i + 1}`);
  const status = (h: string, step: number): Status =>
    failing.includes(h) ? (step === 1 ? 'failed' : step > 1 ? 'skipped' : 'ok') : step === 0 ? 'ok' : 'changed';
  const records = ['01-preflight', '05-hello2-on-vms', '10-hello3-dns'].map((id, step) => ({
    id: `traffic-shift/${id}`,
    title: id,
    article: '-',
    hosts: Object.fromEntries(
      hosts.map((h) => [
        h,
        {
          status: status(h, step),
          lines: step > 1 && failing.includes(h) ? ['an earlier step failed on this host'] : [],
        },
      ]),
    ),
  }));
  return { records, hosts, failed: failing.length > 0 };
}

test('a few hosts: the step x host table', (t) => {
  const out = strip(summaryTable(fleet(3, ['vm2']), 120));
  t.regex(out, /step\W+vm1\W+vm2\W+vm3/);
  t.regex(out, /traffic-shift\/05-hello2-on-vms\W+changed\W+failed\W+changed/);
});

for (const n of [30, 200]) {
  test(`${n} hosts in 120 columns: counts per status and the hosts that need a look, no line past the width`, (t) => {
    const failing = n === 30 ? ['vm7', 'vm21'] : Array.from({ length: 40 }, (_, i) => `vm${i * 5 + 3}`);
    const out = strip(summaryTable(fleet(n, failing), 120));
    const lines = out.split('\n');
    for (const l of lines) t.true(l.length <= 120, `${l.length}: ${l}`);
    t.is(lines.length, 4);
    const s05 = lines.find((l) => l.startsWith('traffic-shift/05-hello2-on-vms'))!;
    t.true(s05.includes(`${n - failing.length} changed, ${failing.length} failed`), s05);
    if (n === 30) t.regex(s05, /: vm7 vm21$/);
    else t.regex(s05, /: vm3 vm8 .* \+\d+ more$/);
    const s10 = lines.find((l) => l.startsWith('traffic-shift/10-hello3-dns'))!;
    t.true(s10.includes(`${failing.length} skipped`), s10);
    t.regex(
      lines.find((l) => l.startsWith('traffic-shift/01-preflight'))!,
      new RegExp(`${n} ok$`),
    );
  });
}
