// meshbook lab cluster: kubectl's `-o jsonpath=...` templates (pure). kubectl's template
// layer (text, {"literal"}, {range ...}{end}) is parsed here; each path inside braces is
// evaluated by jsonpath-plus:
//
//   {.spec.clusterIP}  {.items[*].status.podIP}  {.items[0].metadata.name}  {.items..metadata.name}
//   {.status.loadBalancer.ingress[0].ip}  {.spec.ports[?(@.name=="http")].port}  {.items[-1:]}
//   {range .items[*]}{.metadata.name}{"\n"}{end}   ['key.with.dots']   kubectl\.kubernetes\.io/x
//
// Several results of one {...} are joined by a space, maps and lists print as JSON, a missing
// field prints nothing (kubectl's default --allow-missing-template-keys).
import { JSONPath } from 'jsonpath-plus';

export class JsonPathError extends Error {}

/** root: the path starts at `$` (else at the current item: the data, or a {range}'s item) */
type Node =
  | { t: 'text'; s: string }
  | { t: 'expr'; path: string; root: boolean }
  | { t: 'range'; path: string; root: boolean; body: Node[] };

/** kubectl's path (`.a.b`, `@.x`, `$.y`, `kubectl\.kubernetes\.io/x`) as JSONPath (`$.a.b`, `$['k.k.io/x']`). */
function parsePath(src: string): { path: string; root: boolean } {
  let s = src.trim();
  const root = s.startsWith('$');
  s = s.replace(/^[$@]/, '');
  if (s && s[0] !== '.' && s[0] !== '[') s = `.${s}`;
  // a name with escaped dots becomes one bracketed key
  s = s.replace(/\.((?:[^.[\\]|\\.)+)/g, (m, name: string) =>
    name.includes('\\') ? `['${name.replace(/\\(.)/g, '$1')}']` : m,
  );
  return { path: `$${s}`, root };
}

function evalPath(path: string, json: unknown): unknown[] {
  if (json === null || typeof json !== 'object') return [];
  try {
    return JSONPath({ path, json: json as object, wrap: true, eval: 'safe' }) as unknown[];
  } catch (e) {
    throw new JsonPathError(`cannot evaluate ${path}: ${(e as Error).message}`);
  }
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
      out += evalPath(n.path, n.root ? root : cur)
        .map(show)
        .join(' ');
    else for (const item of evalPath(n.path, n.root ? root : cur)) out += evalNodes(n.body, root, item);
  }
  return out;
}

/** Evaluate a kubectl jsonpath template (`{.a.b}`, with text and {range}...{end}) on `data`. */
export function jsonpath(template: string, data: unknown): string {
  return evalNodes(parseTemplate(template), data, data);
}
