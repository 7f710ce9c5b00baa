// The report's charts: vega-lite specs compiled to vega and rendered to SVG in Node (renderer
// 'none', View.toSVG), inlined in the HTML: nothing is drawn by hand and nothing is fetched.
// vega loads only here (the report command), never with `meshbook --help`.
import type { RunModel, VerifyLike } from './model.ts';
import { cellKey } from './model.ts';

type Spec = Record<string, unknown>;

const CONFIG = { aria: false, font: 'system-ui, sans-serif', view: { stroke: null } };

/** One vega-lite spec as an SVG string. */
export async function toSvg(spec: Spec): Promise<string> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vl.compile({ ...spec, config: CONFIG } as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    // coordinates to a tenth of a pixel: a 200-host timeline is a third the size, and looks the same
    return (await view.toSVG()).replace(/(\d+\.\d)\d+/g, '$1');
  } finally {
    view.finalize();
  }
}

/** Expected vs observed share per bucket: a bar per bucket (observed), its 95 % interval, the expected share. */
export function verifierSpec(r: VerifyLike): Spec {
  const values = (r.buckets ?? []).map((b) => ({
    bucket: b.name,
    observed: b.observedPct,
    expected: b.expectedPct,
    lo: b.ci95Pct?.[0],
    hi: b.ci95Pct?.[1],
    n: b.observed,
  }));
  const x = { field: 'bucket', type: 'nominal', title: 'bucket', axis: { labelAngle: 0 } };
  const y = { type: 'quantitative', title: 'share of classified answers (%)', scale: { domain: [0, 100] } };
  return {
    width: Math.max(160, values.length * 70),
    height: 220,
    data: { values },
    layer: [
      {
        name: 'observed',
        mark: { type: 'bar', color: '#4c78a8', width: { band: 0.6 } },
        encoding: { x, y: { field: 'observed', ...y } },
      },
      {
        name: 'interval',
        mark: { type: 'rule', color: '#222', strokeWidth: 2 },
        encoding: { x, y: { field: 'lo', ...y }, y2: { field: 'hi' } },
      },
      {
        name: 'expected',
        mark: { type: 'tick', color: '#e45756', thickness: 3, size: 40 },
        encoding: { x, y: { field: 'expected', ...y } },
      },
      {
        mark: { type: 'text', dy: -8, fontSize: 11 },
        encoding: { x, y: { field: 'hi', ...y }, text: { field: 'observed', format: '.1f' } },
      },
    ],
  };
}

/** Latency percentiles (p50, p90, p99) per bucket. */
export function latencySpec(r: VerifyLike): Spec {
  const values = (r.buckets ?? []).flatMap((b) =>
    (['p50', 'p90', 'p99'] as const)
      .filter((p) => typeof b.latencyMs?.[p] === 'number')
      .map((p) => ({ bucket: b.name, percentile: p, ms: b.latencyMs![p] })),
  );
  return {
    width: Math.max(160, (r.buckets?.length ?? 1) * 70),
    height: 160,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'percentile', type: 'ordinal', title: 'percentile', axis: { labelAngle: 0 } },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
      color: { field: 'bucket', type: 'nominal' },
    },
  };
}

/** A canary: the weights per step over time, and each step's verdict. */
export function canarySpec(m: RunModel): Spec {
  const values = m.canary.flatMap((c) =>
    Object.entries(c.weights)
      .filter(([, weight]) => weight > 0)
      .map(([version, weight]) => ({ step: c.index, version, weight, verdict: c.verdict })),
  );
  const verdicts = m.canary.map((c) => ({ step: c.index, verdict: c.verdict, top: 100 }));
  const x = { field: 'step', type: 'ordinal', title: 'canary step', axis: { labelAngle: 0 } };
  return {
    width: Math.max(200, m.canary.length * 60),
    height: 200,
    layer: [
      {
        name: 'weights',
        data: { values },
        mark: 'bar',
        encoding: {
          x,
          y: { field: 'weight', type: 'quantitative', stack: 'zero', title: 'weight (%)' },
          color: { field: 'version', type: 'nominal' },
        },
      },
      {
        name: 'verdicts',
        data: { values: verdicts },
        mark: { type: 'text', dy: -8, fontWeight: 'bold' },
        encoding: {
          x,
          y: { field: 'top', type: 'quantitative' },
          text: { field: 'verdict' },
          color: {
            field: 'verdict',
            type: 'nominal',
            scale: {
              domain: ['PASS', 'FAIL', 'INCONCLUSIVE', 'ROLLBACK'],
              range: ['#2e7d32', '#c62828', '#ef6c00', '#6a1b9a'],
            },
            legend: null,
          },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

/** When each step ran on each host: a bar per step x host from its start to its end. */
export function timelineSpec(m: RunModel): Spec {
  const values: Record<string, unknown>[] = [];
  for (const h of m.hosts)
    for (const s of m.steps) {
      const c = m.cells.get(cellKey(s.id, h));
      if (!c?.startedAt || c.ms === undefined) continue;
      const t0 = Date.parse(c.startedAt);
      values.push({ host: h, step: s.id.split('/').pop(), start: t0, end: t0 + Math.max(c.ms, 1), status: c.status });
    }
  return {
    width: 760,
    height: { step: m.hosts.length > 60 ? 6 : 14 },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: {
        field: 'host',
        type: 'nominal',
        sort: m.hosts,
        title: null,
        axis: m.hosts.length > 60 ? { labels: false } : {},
      },
      x: { field: 'start', type: 'temporal', title: 'time', axis: { format: '%H:%M:%S' } },
      x2: { field: 'end' },
      color: {
        field: 'step',
        type: 'nominal',
        sort: m.steps.map((s) => s.id.split('/').pop()),
        legend: { columns: 2 },
      },
      stroke: { condition: { test: "datum.status === 'failed'", value: '#c62828' }, value: null },
    },
  };
}
