// Render a VerifyResult: a text report (the table with bars the article's `uniq -c` was trying
// to be, the statistics, latency per bucket, the verdict last) or one JSON object.

import Table from 'cli-table3';
import type { LatencyJson, VerifyResult } from './traffic.ts';
import { fmtP } from './stats.ts';

const BAR_WIDTH = 30;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `frac` of `width` cells, in 1/8-cell steps (observed). */
export function solidBar(frac: number, width = BAR_WIDTH): string {
  const cells = Math.max(0, Math.min(1, frac)) * width;
  const whole = Math.floor(cells);
  const part = Math.round((cells - whole) * 8);
  return '█'.repeat(whole) + (part === 8 ? '█' : EIGHTHS[part]);
}

/** A light bar (expected), in whole cells. */
export function lightBar(frac: number, width = BAR_WIDTH): string {
  return '░'.repeat(Math.round(Math.max(0, Math.min(1, frac)) * width));
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number) => `${x.toFixed(1)} %`;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
const ms = (x: number | null) => (x === null ? '-' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));

const PLAIN_STYLE = { head: [] as string[], border: [] as string[] };

export interface TextOptions {
  color?: boolean;
}

type Paint = (code: string, s: string) => string;

/** The first line: what was sent and how answers were put in buckets. */
function headline(r: VerifyResult): string {
  const by = r.target.classifyBy === 'body' ? `body, first ${int(r.target.maxBodyBytes)} bytes` : r.target.classifyBy;
  const headers = Object.entries(r.target.headers)
    .map(([k, v]) => `  ${k}: ${v}`)
    .join('');
  return (
    `meshbook verify traffic: GET ${r.target.url}${headers ? ' with' + headers : ''}  ` +
    `(buckets by ${by}; ${r.mode} split)`
  );
}

/** The table per bucket (weight, expected, observed, interval, deviation, bars), then the other answers. */
function bucketTable(r: VerifyResult, c: Paint): string {
  // Scale bars so the largest share fills the width.
  let top = 0;
  for (const b of r.buckets) top = Math.max(top, b.expectedPct, b.observedPct);
  for (const o of r.other) top = Math.max(top, o.pctOfCounted);
  const scale = top > 0 ? 100 / top : 1;
  const table = new Table({
    head: [
      'bucket',
      'weight',
      'expected',
      'observed',
      'observed %',
      '95 % interval',
      'deviation',
      'expected ░ / observed █',
    ],
    style: PLAIN_STYLE,
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  });
  for (const b of r.buckets) {
    const dev = `${signed(b.deviationPts)} pts`;
    table.push([
      b.name,
      String(b.weight),
      `${pct(b.expectedPct)}\n${int(b.expectedCount)}`,
      int(b.observed),
      pct(b.observedPct),
      `${b.ci95Pct[0].toFixed(1)}-${b.ci95Pct[1].toFixed(1)} %`,
      b.ok ? dev : c('1', dev + ' !'),
      `${lightBar((b.expectedPct / 100) * scale)} ${b.expectedPct.toFixed(1)}\n` +
        `${solidBar((b.observedPct / 100) * scale)} ${b.observedPct.toFixed(1)}`,
    ]);
  }
  for (const o of r.other) {
    table.push([
      o.label,
      '-',
      '-',
      int(o.count),
      `${pct(o.pctOfCounted)} of all`,
      '',
      '',
      `${solidBar((o.pctOfCounted / 100) * scale)} ${o.pctOfCounted.toFixed(1)}`,
    ]);
  }
  return table.toString();
}

/** What the shares are over: the classified answers, and what else was counted or not. */
function denominatorLine(r: VerifyResult): string {
  const t = r.totals;
  const parts = [`${int(t.classified)} classified`];
  parts.push(
    `${int(t.unclassified)} unclassified`,
    `${int(t.non2xx)} non-2xx`,
    `${int(t.transportErrors)} transport errors`,
  );
  return (
    `denominator  shares, intervals and chi-square are over the ${int(t.classified)} classified answers; ` +
    `${int(t.counted)} requests counted = ${parts.join(' + ')}` +
    (t.warmup ? `; ${int(t.warmup)} warm-up requests not counted` : '') +
    (t.abandoned ? `; ${int(t.abandoned)} in flight at the stop not counted` : '')
  );
}

/** The test the split was judged by: chi-square (random) or the count per bucket (deterministic). */
function testLine(r: VerifyResult): string {
  if (r.mode === 'random') {
    return r.chiSquare
      ? `chi-square   ${r.chiSquare.statistic.toFixed(3)}  df ${r.chiSquare.df}  p ${fmtP(r.chiSquare.p)}  ` +
          `(alpha ${r.settings.alpha}, min-effect ${r.settings.minEffectPts} points)`
      : `chi-square   n/a (fewer than two weighted buckets, or nothing ` +
          `classified)  (min-effect ${r.settings.minEffectPts} points)`;
  }
  return (
    `counts       weighted round-robin: every bucket within +- ${r.settings.slack} requests of its exact share` +
    (r.chiSquare
      ? `  (chi-square ${r.chiSquare.statistic.toFixed(3)}, df ${r.chiSquare.df}, p ${fmtP(r.chiSquare.p)})`
      : '')
  );
}

/** The run: N, duration, rate, connections, and whether it stopped early. */
function runLine(r: VerifyResult): string {
  const t = r.totals;
  return (
    `run          N ${int(t.counted)}${r.settings.nAuto ? ' (auto)' : ''}  ${r.run.durationS.toFixed(2)} s  ` +
    (`${int(r.run.reqPerSec)} req/s  ${int(r.run.connectionsUsed)} ` +
      `connection${r.run.connectionsUsed === 1 ? '' : 's'} used`) +
    ` (-c ${r.settings.connections}${r.settings.newConnectionPerRequest ? ', new connection per request' : ''}` +
    `${r.settings.qps ? `, --qps ${r.settings.qps}` : ''})` +
    (r.run.interrupted ? `  stopped early (${r.run.interrupted === 'signal' ? 'Ctrl-C' : '--max-time'})` : '')
  );
}

/** The text report: headline, table and statistics (when anything was counted), sizing, latency, verdict last. */
export function renderText(r: VerifyResult, opts: TextOptions = {}): string {
  const out: string[] = [];
  const c: Paint = (code, s) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  out.push(headline(r));
  if (r.verdict !== 'ERROR' || r.totals.counted > 0) {
    out.push(bucketTable(r, c), denominatorLine(r), testLine(r), runLine(r));
  }
  out.push(sizingLine(r));
  const seq = sequentialLines(r);
  if (seq) out.push(seq);

  const lat = latencyTable(r);
  if (lat) out.push('latency (ms)\n' + lat);

  const colour = r.verdict === 'PASS' ? '32;1' : r.verdict === 'FAIL' ? '31;1' : '33;1';
  out.push(`${c(colour, `VERDICT ${r.verdict}`)} (exit ${r.exitCode})`);
  for (const reason of r.reasons) out.push(`  - ${reason}`);
  return out.join('\n') + '\n';
}

function sizingLine(r: VerifyResult): string {
  const s = r.sizing;
  if (r.mode === 'deterministic') {
    return `sizing       -n auto = ${int(s.autoN)} (whole weighted round-robin cycles, at least 200)`;
  }
  const split = r.buckets.map((b) => Math.round(b.expectedPct * 10) / 10).join('/');
  const m = r.settings.minEffectPts;
  const at = (n: number, pass: number | null, off: { split: string; passPct: number } | null, exact: boolean) =>
    `at N = ${int(n)} a correct ${split} split PASSes ${exact ? '' : '>= '}${pass === null ? '-' : pass.toFixed(1)} %` +
    (off
      ? `; a split off by ${m} points (worst: ${off.split}) PASSes ${exact ? '' : '<= '}${off.passPct.toFixed(1)} %`
      : '');
  let line = `sizing       ${at(r.settings.n, s.passIfCorrectPct, s.offByMinEffect, s.exact)}`;
  if (!r.settings.nAuto && s.atAutoN) {
    line +=
      `\n             -n auto would ` +
      (`be ${int(s.autoN)}: ` +
        `${at(s.autoN, s.atAutoN.passIfCorrectPct, s.atAutoN.offByMinEffect, true).replace(/^at N = [\d,]+ /, '')}`);
  } else {
    line += ` (-n auto: >= 99 % for a correct split)`;
  }
  return line;
}

/** `--extend-once`: what happened and the design's error rates. */
export function sequentialLines(r: VerifyResult): string | null {
  const q = r.sequential;
  if (!q) return null;
  const s1 = q.stages[0];
  let what: string;
  if (q.extended) {
    const s2 = q.stages[1];
    what =
      `stage 1 N ${int(s1.counted)} INCONCLUSIVE -> stage 2: a fresh ` +
      `N ${int(s2.counted)} decided ${s2.verdict} (${int(q.totalCounted)} requests in all)`;
  } else if (s1.verdict === 'ERROR') {
    what = `stage 1 ERROR: nothing to extend`;
  } else if (q.notExtended) {
    what = `stage 1 N ${int(s1.counted)} ${s1.verdict}; not extended: ${q.notExtended}`;
  } else {
    what =
      `stage 1 N ${int(s1.counted)} decided ${s1.verdict}` +
      (q.design ? ` (an INCONCLUSIVE would have sent a fresh ${int(q.design.n2)})` : '');
  }
  const lines = [`sequential   --extend-once: ${what}`];
  const d = q.design;
  if (d) {
    const split = r.buckets.map((b) => Math.round(b.expectedPct * 10) / 10).join('/');
    const le = d.exact ? '<=' : '<~';
    let line =
      `             design at N ${int(d.n1)} + ${int(d.n2)}: a correct ${split} split fails to ` +
      `PASS ${le} ${prob(d.correctNotPassProb)} (one stage: ${prob(d.singleStageCorrectNotPassProb)})`;
    if (d.offByMinEffect) {
      const o = d.offByMinEffect;
      line +=
        `;\n             a split off by ${r.settings.minEffectPts} points (worst: ${o.split}) ` +
        `PASSes ${le} ${prob(o.passProb)} (one stage: ${prob(o.singleStagePassProb)}) and FAILs ${prob(o.failProb)} ` +
        `(one stage: ${prob(o.singleStageFailProb)}; simulated, ${int(d.simulatedRuns)} runs)`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/** A probability for the report: percent down to 0.1 %, below that scientific. */
export function prob(p: number): string {
  if (p === 0) return '0';
  if (p >= 0.001) return `${(p * 100).toFixed(1)} %`;
  return p.toExponential(1);
}

function latencyTable(r: VerifyResult): string | null {
  const rows: [string, LatencyJson][] = [];
  for (const b of r.buckets) if (b.latencyMs.count > 0) rows.push([b.name, b.latencyMs]);
  for (const o of r.other) if (o.latencyMs && o.latencyMs.count > 0) rows.push([o.label, o.latencyMs]);
  if (rows.length === 0) return null;
  const table = new Table({
    head: ['bucket', 'count', 'p50', 'p90', 'p99', 'max'],
    style: PLAIN_STYLE,
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right'],
  });
  for (const [name, l] of rows) table.push([name, int(l.count), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max)]);
  return table.toString();
}

/** Exactly one JSON object (one line). */
export function renderJson(r: VerifyResult): string {
  return JSON.stringify(r);
}
