// `meshbook report`: one or more runs as a single self-contained HTML page: a header per run
// (command, env, result, duration), the step x host matrix (grid.ts), a per-host timeline,
// the verifier's and a canary's charts (charts.ts: vega-lite rendered to inline SVG), and
// each step's purpose, article section, commands (masked) and failures, collapsible.
import { CSP, CSS, JS } from './assets.ts';
import { canarySpec, latencySpec, timelineSpec, toSvg, verifierSpec } from './charts.ts';
import { esc, matrix, stepNum } from './grid.ts';
import { cellKey, type RunModel, type VerifyLike } from './model.ts';
import { masked } from '../ledger/ledger.ts';

const secs = (ms: number | null | undefined) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '?');

/** The run's header: command line, env file, result, duration, who and what. */
function header(m: RunModel, i: number): string {
  const s = m.summary;
  const st = m.start as Record<string, unknown>;
  const env = st.env as { path?: string; sha256?: string | null } | undefined;
  const rows: [string, string][] = [
    ['command', `<code>meshbook ${esc(((st.argv as string[]) ?? []).join(' '))}</code>`],
    [
      'result',
      `<span class="result-${esc(s.result.replace(/\s+/g, '-'))}">${esc(s.result)}</span>` +
        (s.code !== null ? ` (exit ${s.code})` : '') +
        (s.verdict ? `, verdict <b>${esc(s.verdict)}</b>` : ''),
    ],
    ['started', esc(s.when)],
    ['duration', secs(s.durationMs)],
    [
      'env file',
      env ? `<code>${esc(env.path)}</code> <span class="muted">sha256 ${esc(env.sha256?.slice(0, 16))}…</span>` : '-',
    ],
    [
      'hosts',
      `${m.hosts.length || s.hosts}${m.hosts.length ? `: ${esc(m.hosts.slice(0, 12).join(' '))}${m.hosts.length > 12 ? ' …' : ''}` : ''}`,
    ],
    ['failed steps', s.failedSteps.length ? esc(s.failedSteps.join(', ')) : 'none'],
    ['meshbook', `${esc(st.version)}${st.commit ? ` (commit ${esc(String(st.commit).slice(0, 10))})` : ''}`],
    ['ledger', `<code>${esc(s.file)}</code>`],
  ];
  return `<h1 id="run${i}">${esc(s.command)} · ${esc(s.id)}</h1><dl class="head">${rows
    .filter(([k]) => m.steps.length || !['hosts', 'failed steps'].includes(k)) // a verifier run has neither
    .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
    .join('')}</dl>`;
}

/** The verifier's result: the chart, the latencies and the figures. */
async function verifierSection(v: RunModel['verify'][number]): Promise<string> {
  const r: VerifyLike = v.result;
  const where = v.step ? ` (step ${esc(v.step)})` : '';
  const rows = (r.buckets ?? [])
    .map(
      (b) =>
        `<tr><th>${esc(b.name)}</th><td>${b.observed}</td><td>${b.observedPct.toFixed(1)}</td>` +
        `<td>${b.expectedPct.toFixed(1)}</td><td>${b.ci95Pct?.map((x) => x.toFixed(1)).join(' to ')}</td>` +
        `<td>${b.latencyMs?.p50 ?? '-'}</td><td>${b.latencyMs?.p99 ?? '-'}</td></tr>`,
    )
    .join('');
  const chi = r.chiSquare
    ? `, chi-square ${r.chiSquare.statistic.toFixed(2)} (df ${r.chiSquare.df}, p ${r.chiSquare.p.toFixed(4)})`
    : '';
  return (
    `<h3>verdict ${esc(r.verdict)}${where}: ${r.totals?.counted ?? '?'} requests to <code>${esc(r.target?.url)}</code>${chi}</h3>` +
    `<figure class="verifier"><figcaption>observed share per bucket (bars), 95 % interval (black), expected (red)</figcaption>` +
    `${await toSvg(verifierSpec(r))}</figure>` +
    `<figure class="latency"><figcaption>latency percentiles per bucket</figcaption>${await toSvg(latencySpec(r))}</figure>` +
    `<table class="kv"><tr><th>bucket</th><th>n</th><th>observed %</th><th>expected %</th><th>95 %</th>` +
    `<th>p50 ms</th><th>p99 ms</th></tr>${rows}</table>` +
    `<ul>${(r.reasons ?? []).map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`
  );
}

/** A canary's steps: weights over time with each verdict, and the figures. */
async function canarySection(m: RunModel): Promise<string> {
  const rows = m.canary
    .map(
      (c) =>
        `<tr><th>${esc(c.label ?? String(c.index))}</th><td>${esc(
          Object.entries(c.weights)
            .map(([k, w]) => `${k}=${w}`)
            .join(' '),
        )}</td>` +
        `<td>${esc(c.verdict)}</td><td>${c.n ?? '-'}</td><td>${c.p ?? '-'}</td><td>${c.errorsPct ?? '-'}</td>` +
        `<td>${c.canaryP99Ms ?? '-'}</td><td>${c.baselineP99Ms ?? '-'}</td><td>${secs(c.durationMs)}</td></tr>`,
    )
    .join('');
  return (
    `<h2>Canary</h2><figure class="canary"><figcaption>weights per step, and the verdict</figcaption>` +
    `${await toSvg(canarySpec(m))}</figure><table class="kv"><tr><th>step</th><th>weights</th><th>verdict</th>` +
    `<th>n</th><th>p</th><th>errors %</th><th>canary p99 ms</th><th>baseline p99 ms</th><th>took</th></tr>${rows}</table>`
  );
}

/** Each step: purpose, article section, notes, the commands it sent (one copy per distinct text), failures. */
function stepDetails(m: RunModel, run: number): string {
  return m.steps
    .map((s, i) => {
      const here = m.hosts.map((h) => [h, m.cells.get(cellKey(s.id, h))] as const).filter(([, c]) => c);
      const counts = new Map<string, number>();
      for (const [, c] of here) counts.set(c!.status, (counts.get(c!.status) ?? 0) + 1);
      const cmds = new Map<string, string[]>();
      for (const [h, c] of here)
        for (const x of c!.sent ?? []) cmds.set(`${x.kind}\0${x.cmd}`, [...(cmds.get(`${x.kind}\0${x.cmd}`) ?? []), h]);
      const failed = here.filter(([, c]) => c!.status === 'failed');
      const cmdHtml = [...cmds]
        .map(
          ([k, hs]) =>
            `<div class="muted">${esc(k.split('\0')[0])} on ${hs.length === here.length ? 'every host' : esc(hs.join(' '))}</div>` +
            `<pre>${esc(k.split('\0')[1])}</pre>`,
        )
        .join('');
      const failHtml = failed
        .map(
          ([h, c]) =>
            `<div class="result-failed">${esc(h)}: ${esc(c!.error)}</div>${c!.tail ? `<pre>${esc(c!.tail)}</pre>` : ''}`,
        )
        .join('');
      return (
        `<details class="step${failed.length ? ' failed' : ''}" id="r${run}-s${i}"${failed.length ? ' open' : ''}>` +
        `<summary><b>${esc(stepNum(s.id))}</b> ${esc(s.id)}: ${esc(s.title)} <span class="muted">(` +
        `${[...counts].map(([k, n]) => `${n} ${esc(k)}`).join(', ')})</span></summary>` +
        `<p>article: ${esc(s.article)}</p>${s.notes.length ? `<ul>${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}` +
        `${failHtml}${cmdHtml || '<p class="muted">nothing sent</p>'}</details>`
      );
    })
    .join('');
}

/** One run's section. */
async function runSection(m: RunModel, i: number): Promise<{ html: string; data: string }> {
  const grid = matrix(m, i);
  const parts = [header(m, i)];
  if (m.steps.length) {
    parts.push(`<h2>Steps × hosts (${m.steps.length} × ${m.hosts.length})</h2>${grid.html}`);
    parts.push(`<h2>Per-host timeline</h2><figure class="timeline">${await toSvg(timelineSpec(m))}</figure>`);
  }
  if (m.verify.length) parts.push('<h2>Traffic split</h2>', ...(await Promise.all(m.verify.map(verifierSection))));
  if (m.canary.length) parts.push(await canarySection(m));
  if (m.steps.length) parts.push(`<h2>Steps</h2>${stepDetails(m, i)}`);
  return { html: `<section class="run">${parts.join('\n')}</section>`, data: grid.data };
}

/** The whole page for these runs (oldest first). Every string passes the ledger's mask once more. */
export async function renderReport(models: RunModel[]): Promise<string> {
  const sections = [];
  for (const [i, m] of models.entries()) sections.push(await runSection(m, i));
  const index =
    models.length > 1
      ? `<h1>${models.length} runs</h1><ul>${models
          .map(
            (m, i) =>
              `<li><a href="#run${i}">${esc(m.summary.when)} ${esc(m.summary.command)}</a> ${esc(m.summary.result)}</li>`,
          )
          .join('')}</ul>`
      : '';
  const title = models.length === 1 ? `meshbook ${models[0].summary.command} ${models[0].summary.id}` : 'meshbook runs';
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<meta name="viewport" content="width=device-width"><title>${esc(title)}</title><style>${CSS}</style></head><body>` +
    `${index}${sections.map((s) => s.html).join('\n')}` +
    `<aside id="panel"><button id="panel-close" type="button">close</button><div id="panel-body"></div></aside>` +
    sections
      .map((s, i) => `<script type="application/json" class="cells" data-run="${i}">${s.data}</script>`)
      .join('') +
    `<script>${JS}</script></body></html>\n`;
  return masked(html) as string;
}
