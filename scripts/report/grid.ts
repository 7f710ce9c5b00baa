// The step x host matrix: a row per host and a column per step, hosts grouped by outcome (the
// same status on every step), the groups with a failure open and the others folded to one
// row, so 200 hosts read as a handful of lines. Every cell opens the commands it sent and
// what they printed (data in a JSON block, shown by the page's script: one click).
import type { Cell, RunModel } from './model.ts';
import { cellKey } from './model.ts';

export const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const SHORT: Record<string, string> = {
  ok: 'ok',
  changed: 'chg',
  unchanged: '=',
  skipped: '-',
  'not in lab': 'lab',
  failed: '✗',
  'would change': '~',
};
export const STATUSES = Object.keys(SHORT);
export const cls = (status: string) => `s-${status.replace(/\s+/g, '-')}`;

/** The step's short name in a column head: its number (01), or its id. */
export const stepNum = (id: string) => id.split('/').pop()!.split('-')[0];

/** Strings said once, cells pointing at them (a 30-host run sends the same script 30 times). */
class Strings {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  of(s: string | undefined): number | undefined {
    if (s === undefined || s === '') return undefined;
    let i = this.index.get(s);
    if (i === undefined) this.index.set(s, (i = this.list.push(s) - 1));
    return i;
  }
}

/** One cell's data for the page's script (strings by index). */
function cellData(c: Cell, str: Strings) {
  return {
    st: c.status,
    ms: c.ms,
    at: c.startedAt,
    err: str.of(c.error),
    lines: (c.lines ?? []).map((l) => str.of(l)),
    tail: str.of(c.tail),
    facts: c.facts && Object.keys(c.facts).length ? str.of(JSON.stringify(c.facts)) : undefined,
    sent: (c.sent ?? []).map((s) => ({
      k: s.kind,
      cmd: str.of(s.cmd),
      code: s.code,
      ms: s.ms,
      out: str.of(s.stdout),
      err: str.of(s.stderr),
      to: s.timedOut,
    })),
  };
}

/** The hosts grouped by outcome: failures first, then the biggest groups. */
function groups(m: RunModel): { sig: string[]; hosts: string[] }[] {
  const by = new Map<string, { sig: string[]; hosts: string[] }>();
  for (const h of m.hosts) {
    const sig = m.steps.map((s) => m.cells.get(cellKey(s.id, h))?.status ?? '');
    const k = sig.join('|');
    if (!by.has(k)) by.set(k, { sig, hosts: [] });
    by.get(k)!.hosts.push(h);
  }
  const bad = (g: { sig: string[] }) => (g.sig.includes('failed') ? 0 : 1);
  return [...by.values()].sort((a, b) => bad(a) - bad(b) || b.hosts.length - a.hosts.length);
}

const tdOf = (status: string, attrs = '') =>
  `<td class="cell ${status ? cls(status) : 's-none'}"${attrs} title="${esc(status || 'did not run')}">${esc(
    SHORT[status] ?? '',
  )}</td>`;

/** The matrix as an HTML table, and the cells' data (JSON) for the page's script. */
export function matrix(m: RunModel, run: number): { html: string; data: string } {
  const str = new Strings();
  const cells: Record<string, ReturnType<typeof cellData>> = {};
  const heads = m.steps
    .map(
      (s, i) =>
        `<th class="step" title="${esc(`${s.id}: ${s.title}`)}"><a href="#r${run}-s${i}">${esc(stepNum(s.id))}</a></th>`,
    )
    .join('');
  const bodies = groups(m).map((g, gi) => {
    const open = g.sig.includes('failed') || g.hosts.length <= 3;
    const counts = `${g.hosts.length} host${g.hosts.length > 1 ? 's' : ''}`;
    // a host alone is its own row (no group row above it)
    const head =
      g.hosts.length === 1
        ? ''
        : `<tr class="group"><th class="gname">▸ ${counts}</th>` +
          g.sig.map((st) => tdOf(st, ' data-k=""')).join('') +
          '</tr>';
    const rows = g.hosts.map((h) => {
      const tds = m.steps.map((s, si) => {
        const c = m.cells.get(cellKey(s.id, h));
        if (c) cells[`${si}:${h}`] = cellData(c, str);
        return tdOf(c?.status ?? '', ` data-step="${esc(s.id)}" data-host="${esc(h)}" data-k="${esc(`${si}:${h}`)}"`);
      });
      return `<tr class="host"><th class="hname">${esc(h)}</th>${tds.join('')}</tr>`;
    });
    return `<tbody class="grp" data-open="${open ? 1 : 0}" id="r${run}-g${gi}">${head}${rows.join('')}</tbody>`;
  });
  const legend = STATUSES.map((s) => `<span class="cell ${cls(s)}">${esc(SHORT[s])}</span> ${esc(s)}`).join(' ');
  const html =
    `<p class="legend">${legend}. Hosts with the same outcome on every step are one group (click a group to ` +
    `open or fold it); click a cell for its commands and output.</p>` +
    `<div class="matrix-wrap"><table class="matrix" data-run="${run}"><thead><tr><th>host</th>${heads}</tr></thead>` +
    `${bodies.join('')}</table></div>`;
  // a </script> inside a string must not end the JSON block
  const data = JSON.stringify({ strings: str.list, cells }).replace(/</g, '\\u003c');
  return { html, data };
}
