// What a rebuild on a fresh lab does per step, as the README's lab table shows it: each step is
// "real" (ran: ok, changed or unchanged on every host), "not in lab", "skipped" or "failed". The
// test that rebuilds every runbook compares its result with the table in README.md, so the table
// cannot drift from the code.
export type Kind = 'real' | 'not in lab' | 'skipped' | 'failed';
export const KINDS: Kind[] = ['real', 'not in lab', 'skipped', 'failed'];

interface Rep {
  steps: Array<{ id: string; hosts: Record<string, { status: string }> }>;
}

/** One step's kind over its hosts: failed beats not in lab beats real (it ran on at least one host,
 *  e.g. a control-plane step that the other VMs skip) beats skipped. */
export function kindOf(statuses: string[]): Kind {
  if (statuses.includes('failed')) return 'failed';
  if (statuses.includes('not in lab')) return 'not in lab';
  if (statuses.some((s) => ['ok', 'changed', 'unchanged'].includes(s))) return 'real';
  return 'skipped';
}

/** Step number (the "NN" of NN-name) per kind, for one runbook's `rebuild --json` report. */
export function classify(rep: Rep): Record<Kind, string[]> {
  const out: Record<Kind, string[]> = { real: [], 'not in lab': [], skipped: [], failed: [] };
  for (const s of rep.steps) out[kindOf(Object.values(s.hosts).map((h) => h.status))].push(s.id.split('/')[1]);
  return out;
}

const BEGIN = '<!-- lab-table: begin (checked by test/lab-every-runbook.test.ts) -->';
const END = '<!-- lab-table: end -->';

/** A compact cell: the step numbers, e.g. "01, 03-06, 08" (consecutive ones as a range). */
export function cell(ids: string[]): string {
  if (!ids.length) return '-';
  const nums = ids.map((id) => Number(id.slice(0, 2)));
  const parts: string[] = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++;
    const a = String(nums[i]).padStart(2, '0');
    const b = String(nums[j]).padStart(2, '0');
    parts.push(j > i + 1 ? `${a}-${b}` : j === i + 1 ? `${a}, ${b}` : a);
    i = j + 1;
  }
  return parts.join(', ');
}

export function renderTable(rows: Array<{ runbook: string; kinds: Record<Kind, string[]> }>): string {
  const lines = [
    BEGIN,
    '| runbook | steps | real (ok / changed / unchanged) | not in lab | skipped | failed |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const n = KINDS.reduce((a, k) => a + r.kinds[k].length, 0);
    lines.push(`| ${r.runbook} | ${n} | ${KINDS.map((k) => cell(r.kinds[k])).join(' | ')} |`);
  }
  lines.push(END);
  return lines.join('\n');
}

/** The table as it stands in the README (between the markers), or undefined. */
export function readmeTable(readme: string): string | undefined {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  return a >= 0 && b > a ? readme.slice(a, b + END.length) : undefined;
}
