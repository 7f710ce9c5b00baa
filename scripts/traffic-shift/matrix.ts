// Reachability as a matrix: rows are where a request came from, columns where it went,
// each cell ok/failed with the first line of the answer (or of the error) as a footnote.
// Pure functions: the cluster step feeds them the output of one `kubectl exec` into hello1,
// the VM step one probe per VM, and the lab will feed them its own results the same way.

export interface Probe {
  source: string; // e.g. 'hello1 pod', 'vm2'
  target: string; // e.g. 'vm1 192.168.0.170:8001', 'hello2-svc:8001'
  ok: boolean;
  detail: string; // first line of the answer, or the error
}

const MAX_DETAIL = 160;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
const clip = (s: string, n = MAX_DETAIL) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** Text lines: a header, one row per source, then a numbered footnote per probed cell. */
/** Past this many cells, only the failed cells' answers are listed. */
const MAX_NOTES = 30;

export function renderMatrix(
  results: Probe[],
  title = 'reachability',
  width = process.stdout.columns || 120,
): string[] {
  if (!results.length) return [`${title}: nothing was probed`];
  const sources = [...new Set(results.map((r) => r.source))];
  const targets = [...new Set(results.map((r) => r.target))];
  const notes: string[] = [];
  const cells = new Map<string, string>();
  const failed = new Set<number>();
  for (const r of results) {
    const key = `${r.source}\0${r.target}`;
    if (cells.has(key)) continue; // the first result of a pair counts
    notes.push(
      `[${notes.length + 1}] ${r.source} ` +
        `-> ${r.target}: ${r.ok ? 'ok' : 'FAILED'}: ${clip(oneLine(r.detail) || '(empty answer)')}`,
    );
    if (!r.ok) failed.add(notes.length);
    cells.set(key, `${r.ok ? 'ok' : 'FAILED'} [${notes.length}]`);
  }
  const corner = 'source \\ target';
  const col0 = Math.max(corner.length, ...sources.map((s) => s.length));
  const widths = targets.map((t) => Math.max(t.length, ...sources.map((s) => (cells.get(`${s}\0${t}`) ?? '-').length)));
  const row = (first: string, rest: string[]) =>
    [first.padEnd(col0), ...rest.map((c, i) => c.padEnd(widths[i]))].join('  ').trimEnd();
  const ok = results.filter((r) => r.ok).length;
  const head = `${title}: ${ok} of ${cells.size} ok (rows: source, columns: target)`;
  if (col0 + widths.reduce((a, w) => a + w + 2, 0) <= width) {
    const grid = sources.map((s) =>
      row(
        s,
        targets.map((t) => cells.get(`${s}\0${t}`) ?? '-'),
      ),
    );
    return [head, row(corner, targets), ...grid, ...notes];
  }
  // a fleet's matrix: every answer of a few cells is evidence; past that, the failures only
  const shown = cells.size <= MAX_NOTES ? notes : notes.filter((_n, i) => failed.has(i + 1));
  const hidden = notes.length - shown.length;
  return [
    `${head.replace(' (rows: source, columns: target)', '')} ` +
      (failed.size ? '(per source, the targets that failed)' : '(one line per source)'),
    ...compactRows(sources, targets, cells),
    ...shown,
    ...(hidden ? [`(${hidden} ok answers not listed)`] : []),
  ];
}

/** Past the terminal's width: per source, its count and only the targets that failed (with their note). */
function compactRows(sources: string[], targets: string[], cells: Map<string, string>): string[] {
  return sources.map((s) => {
    const mine = targets.map((t) => [t, cells.get(`${s}\0${t}`)] as const).filter(([, c]) => c !== undefined);
    const bad = mine.filter(([, c]) => c!.startsWith('FAILED'));
    const okN = mine.length - bad.length;
    const failedList = bad.map(([t, c]) => `${t} ${c!.slice('FAILED '.length)}`).join(', ');
    return `  ${s}: ${okN} of ${mine.length} ok${bad.length ? `; failed: ${failedList}` : ''}`;
  });
}

/** The loop run inside the source pod (`sh -c CURL_LOOP meshbook URL...`): the URLs are
 *  arguments, never part of the script. Each URL gets a marked block. */
export const CURL_LOOP = [
  'for u in "$@"; do',
  '  echo "@@meshbook target $u"',
  '  curl -sS -m 5 -w \'\\n@@meshbook http %{http_code}\\n\' "$u" 2>&1',
  '  echo "@@meshbook exit $?"',
  'done',
].join('\n');

export interface Target {
  label: string; // column name
  url: string;
  expect: RegExp; // an answer that proves the hop works
  expectText: string; // said when the answer does not match
}

/** Turn CURL_LOOP's output into probes; targets it never reached are failed with `missing`. */
export function parseCurlLoop(stdout: string, source: string, targets: Target[], missing = 'not probed'): Probe[] {
  const blocks = new Map<string, { body: string[]; http?: string; exit?: string }>();
  let cur: { body: string[]; http?: string; exit?: string } | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^@@meshbook (target|http|exit) (.*)$/.exec(line.replace(/\r$/, ''));
    if (m?.[1] === 'target') {
      cur = { body: [] };
      blocks.set(m[2], cur);
      continue;
    }
    if (!cur) continue;
    if (m?.[1] === 'http') cur.http = m[2].trim();
    else if (m?.[1] === 'exit') cur.exit = m[2].trim();
    else cur.body.push(line.replace(/\r$/, ''));
  }
  return targets.map((t) => {
    const b = blocks.get(t.url);
    if (!b) return { source, target: t.label, ok: false, detail: missing };
    const first = b.body.map(oneLine).find((l) => l) ?? '';
    if (b.exit !== '0') return { source, target: t.label, ok: false, detail: first || `curl exited ${b.exit ?? '?'}` };
    if (b.http !== '200') return { source, target: t.label, ok: false, detail: `HTTP ${b.http ?? '?'}: ${first}` };
    if (!t.expect.test(first))
      return { source, target: t.label, ok: false, detail: `${first} (expected ${t.expectText})` };
    return { source, target: t.label, ok: true, detail: first };
  });
}
