// meshbook lab cluster: kubectl's command line, as the runbooks send it (pure).
// Global connection flags (--context, --kubeconfig, ...) are dropped: the lab has one cluster.

export interface KubectlArgs {
  verb: string;
  /** positional words after the verb */
  args: string[];
  namespace?: string;
  allNamespaces: boolean;
  output?: string;
  selector?: string;
  files: string[];
  container?: string;
  patch?: string;
  /** every other flag: --name=value or --name (true) */
  flags: Record<string, string | true>;
  /** after `--` (exec) */
  command: string[];
}

/** Flags that take a value (as the next word when not written --flag=value). */
const VALUE_FLAGS = new Set([
  'timeout',
  'for',
  'type',
  'replicas',
  'tail',
  'field-selector',
  'sort-by',
  'template',
  'since',
  'grace-period',
  'field-manager',
  'image',
  'port',
  'cascade',
  'from-literal',
  'revision',
  'max-log-requests',
]);
const GLOBAL_VALUE_FLAGS = new Set([
  'context',
  'kubeconfig',
  'cluster',
  'user',
  'request-timeout',
  'server',
  'token',
  'as',
  'as-group',
  'certificate-authority',
  'client-certificate',
  'client-key',
  'tls-server-name',
]);
const SHORT: Record<string, keyof KubectlArgs> = {
  n: 'namespace',
  o: 'output',
  l: 'selector',
  f: 'files',
  c: 'container',
  p: 'patch',
};
const LONG: Record<string, keyof KubectlArgs> = {
  namespace: 'namespace',
  output: 'output',
  selector: 'selector',
  filename: 'files',
  container: 'container',
  patch: 'patch',
};

export class KubectlArgError extends Error {}

export function parseKubectl(argv: string[]): KubectlArgs {
  const a: KubectlArgs = { verb: '', args: [], allNamespaces: false, files: [], flags: {}, command: [] };
  const words = argv[0] === 'kubectl' ? argv.slice(1) : [...argv];
  const set = (key: keyof KubectlArgs, v: string) => {
    if (key === 'files') a.files.push(v);
    else (a as unknown as Record<string, unknown>)[key] = v;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const next = () => {
      if (i + 1 >= words.length) throw new KubectlArgError(`flag needs an argument: ${w}`);
      return words[++i];
    };
    if (w === '--') {
      a.command = words.slice(i + 1);
      break;
    }
    let m: RegExpExecArray | null;
    if ((m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(w))) {
      const [name, val] = [m[1], m[2]];
      if (GLOBAL_VALUE_FLAGS.has(name)) {
        if (val === undefined) next();
        continue;
      }
      if (name === 'all-namespaces') {
        a.allNamespaces = val === undefined || val === 'true';
        continue;
      }
      if (LONG[name]) {
        set(LONG[name], val ?? next());
        continue;
      }
      if (name === 'dry-run') {
        a.flags[name] = val ?? 'client';
        continue;
      }
      a.flags[name] = val ?? (VALUE_FLAGS.has(name) ? next() : true);
      continue;
    }
    if ((m = /^-([a-zA-Z])(=?)(.*)$/s.exec(w))) {
      const [c, eq, rest] = [m[1], m[2], m[3]];
      if (SHORT[c]) {
        set(SHORT[c], rest || eq ? rest : next());
        continue;
      }
      if (c === 'A') {
        a.allNamespaces = true;
        continue;
      }
      // -i -t -it -w -q ...: boolean letters
      for (const ch of c + rest) a.flags[ch] = true;
      continue;
    }
    if (!a.verb) a.verb = w;
    else a.args.push(w);
  }
  return a;
}

/** `30s`, `2m`, `1h`, `1m30s`, `0` (as kubectl's --timeout) in ms; undefined when not valid. */
export function parseDuration(s: string | true | undefined): number | undefined {
  if (s === undefined || s === true) return undefined;
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let used = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    used += m[0].length;
  }
  return used === s.length && used > 0 ? total : undefined;
}
