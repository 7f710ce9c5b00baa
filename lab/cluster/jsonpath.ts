// meshbook lab cluster: kubectl's `-o jsonpath=...` templates (pure). No jsonpath library
// is installed, so this is a small evaluator of the forms kubectl users write:
//
//   {.spec.clusterIP}  {.items[*].status.podIP}  {.items[0].metadata.name}  {.items..metadata.name}
//   {.status.loadBalancer.ingress[0].ip}  {.spec.ports[?(@.name=="http")].port}  {.items[-1:]}
//   {range .items[*]}{.metadata.name}{"\n"}{end}   ['key.with.dots']   kubectl\.kubernetes\.io/x
//
// Filters compare with == != < <= > >= against a quoted string or a number, or test that a
// field exists. Several results of one {...} are joined by a space, maps and lists print as
// JSON, a missing field prints nothing (kubectl's default --allow-missing-template-keys).

export class JsonPathError extends Error {}

type Seg =
  | { t: 'field'; name: string }
  | { t: 'recurse'; name: string | null }
  | { t: 'index'; i: number }
  | { t: 'slice'; start?: number; end?: number; step?: number }
  | { t: 'all' }
  | { t: 'filter'; path: Seg[]; op?: string; value?: string | number };

/** root: the path starts at `$` (else at the current item: the data, or a {range}'s item) */
type Node =
  | { t: 'text'; s: string }
  | { t: 'expr'; path: Seg[]; root: boolean }
  | { t: 'range'; path: Seg[]; root: boolean; body: Node[] };

function readName(s: string, i: number): [string, number] {
  let name = '';
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      name += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '.' || c === '[' || c === ' ' || c === ')' || c === '=' || c === '!' || c === '<' || c === '>') break;
    name += c;
    i++;
  }
  return [name, i];
}

function parsePath(src: string): { path: Seg[]; root: boolean } {
  let s = src.trim();
  let root = false;
  if (s.startsWith('$')) {
    s = s.slice(1);
    root = true;
  } else if (s.startsWith('@')) s = s.slice(1);
  const path: Seg[] = [];
  let i = 0;
  if (s && s[0] !== '.' && s[0] !== '[') s = `.${s}`;
  while (i < s.length) {
    if (s.startsWith('..', i)) {
      i += 2;
      if (s[i] === '*') {
        path.push({ t: 'recurse', name: null });
        i++;
        continue;
      }
      if (s[i] === '[') {
        path.push({ t: 'recurse', name: null });
        continue;
      }
      const [name, j] = readName(s, i);
      path.push({ t: 'recurse', name });
      i = j;
    } else if (s[i] === '.') {
      i++;
      if (s[i] === '*') {
        path.push({ t: 'all' });
        i++;
        continue;
      }
      const [name, j] = readName(s, i);
      if (name) path.push({ t: 'field', name });
      i = j;
    } else if (s[i] === '[') {
      const close = findClose(s, i);
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      path.push(parseBracket(inner, src));
    } else {
      throw new JsonPathError(`unexpected "${s.slice(i)}" in ${src}`);
    }
  }
  return { path, root };
}

function findClose(s: string, open: number): number {
  let depth = 0;
  let quote = '';
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  throw new JsonPathError(`unclosed [ in ${s}`);
}

function parseBracket(inner: string, src: string): Seg {
  if (inner === '*') return { t: 'all' };
  let m: RegExpExecArray | null;
  if ((m = /^(['"])(.*)\1$/.exec(inner))) return { t: 'field', name: m[2] };
  if (/^-?\d+$/.test(inner)) return { t: 'index', i: Number(inner) };
  if ((m = /^(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*))?$/.exec(inner))) {
    const n = (x?: string) => (x === undefined || x === '' ? undefined : Number(x));
    return { t: 'slice', start: n(m[1]), end: n(m[2]), step: n(m[3]) };
  }
  if ((m = /^\?\((.*)\)$/s.exec(inner))) {
    const f = m[1].trim();
    const cmp = /^(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+)$/.exec(f);
    if (cmp) {
      const raw = cmp[3].trim();
      const q = /^(['"])(.*)\1$/.exec(raw);
      const value = q ? q[2] : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
      return { t: 'filter', path: parsePath(cmp[1]).path, op: cmp[2], value };
    }
    if (/^@[\w.\\/-]*$/.test(f)) return { t: 'filter', path: parsePath(f).path };
  }
  throw new JsonPathError(
    `unsupported "[${inner}]" in ${src} (the lab's jsonpath knows fields, [n], [a:b], [*], ..name and [?(@.x=="y")])`,
  );
}

function step(values: unknown[], seg: Seg): unknown[] {
  const out: unknown[] = [];
  for (const v of values) {
    switch (seg.t) {
      case 'field':
        if (v && typeof v === 'object' && !Array.isArray(v) && seg.name in v)
          out.push((v as Record<string, unknown>)[seg.name]);
        break;
      case 'all':
        if (Array.isArray(v)) out.push(...v);
        else if (v && typeof v === 'object') out.push(...Object.values(v));
        break;
      case 'index':
        if (Array.isArray(v)) {
          const i = seg.i < 0 ? v.length + seg.i : seg.i;
          if (i >= 0 && i < v.length) out.push(v[i]);
        }
        break;
      case 'slice':
        if (Array.isArray(v)) {
          const len = v.length;
          const norm = (x: number | undefined, d: number) =>
            x === undefined ? d : x < 0 ? Math.max(0, len + x) : Math.min(len, x);
          const st = seg.step ?? 1;
          for (let i = norm(seg.start, 0); i < norm(seg.end, len); i += st > 0 ? st : 1) out.push(v[i]);
        }
        break;
      case 'recurse': {
        const walk = (x: unknown) => {
          if (Array.isArray(x)) {
            if (seg.name === null) out.push(...x);
            x.forEach(walk);
          } else if (x && typeof x === 'object') {
            const o = x as Record<string, unknown>;
            if (seg.name === null) out.push(...Object.values(o));
            else if (seg.name in o) out.push(o[seg.name]);
            Object.values(o).forEach(walk);
          }
        };
        walk(v);
        break;
      }
      case 'filter': {
        const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
        for (const item of items) {
          const got = seg.path.reduce<unknown[]>((acc, s) => step(acc, s), [item]);
          if (seg.op === undefined) {
            if (got.length && got[0] !== false && got[0] !== null) out.push(item);
            continue;
          }
          if (got.some((g) => compare(g, seg.op!, seg.value!))) out.push(item);
        }
        break;
      }
    }
  }
  return out;
}

function compare(a: unknown, op: string, b: string | number): boolean {
  const x = typeof b === 'number' && typeof a !== 'number' ? Number(a) : a;
  const y = typeof b === 'string' && typeof a === 'number' ? Number(b) : b;
  switch (op) {
    case '==':
      return x === y || String(x) === String(y);
    case '!=':
      return !(x === y || String(x) === String(y));
    case '<':
      return (x as number) < (y as number);
    case '<=':
      return (x as number) <= (y as number);
    case '>':
      return (x as number) > (y as number);
    case '>=':
      return (x as number) >= (y as number);
  }
  return false;
}

function unescapeLiteral(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (({ n: '\n', t: '\t', r: '\r' }) as Record<string, string>)[c] ?? c);
}

function parseTemplate(tpl: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ list: Node[]; node?: Extract<Node, { t: 'range' }> }> = [{ list: root }];
  let i = 0;
  while (i < tpl.length) {
    const open = tpl.indexOf('{', i);
    if (open < 0) {
      stack[stack.length - 1].list.push({ t: 'text', s: tpl.slice(i) });
      break;
    }
    if (open > i) stack[stack.length - 1].list.push({ t: 'text', s: tpl.slice(i, open) });
    // find the matching }, skipping quoted strings
    let j = open + 1;
    let quote = '';
    for (; j < tpl.length; j++) {
      const c = tpl[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') break;
    }
    if (j >= tpl.length) throw new JsonPathError(`unclosed { in template ${tpl}`);
    const body = tpl.slice(open + 1, j).trim();
    i = j + 1;
    const cur = stack[stack.length - 1].list;
    let m: RegExpExecArray | null;
    if ((m = /^(["'])(.*)\1$/s.exec(body))) cur.push({ t: 'text', s: unescapeLiteral(m[2]) });
    else if ((m = /^range\s+(.*)$/s.exec(body))) {
      const p = parsePath(m[1]);
      const node: Extract<Node, { t: 'range' }> = { t: 'range', path: p.path, root: p.root, body: [] };
      cur.push(node);
      stack.push({ list: node.body, node });
    } else if (body === 'end') {
      if (stack.length === 1) throw new JsonPathError(`{end} without {range} in ${tpl}`);
      stack.pop();
    } else {
      const p = parsePath(body);
      cur.push({ t: 'expr', path: p.path, root: p.root });
    }
  }
  if (stack.length > 1) throw new JsonPathError(`{range} without {end} in ${tpl}`);
  return root;
}

const show = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

function evalNodes(nodes: Node[], root: unknown, cur: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'expr')
      out += n.path
        .reduce<unknown[]>((acc, s) => step(acc, s), [n.root ? root : cur])
        .map(show)
        .join(' ');
    else {
      for (const item of n.path.reduce<unknown[]>((acc, s) => step(acc, s), [n.root ? root : cur]))
        out += evalNodes(n.body, root, item);
    }
  }
  return out;
}

/** Evaluate a kubectl jsonpath template (`{.a.b}`, with text and {range}...{end}) on `data`. */
export function jsonpath(template: string, data: unknown): string {
  return evalNodes(parseTemplate(template), data, data);
}
