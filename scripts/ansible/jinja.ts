// Text for Ansible: Jinja templates whose literal parts stay literal, secret references
// that never carry a value, and the shlex quoting Ansible applies to ssh arguments.
//
// Ansible templates every string that contains `{{`, `{%` or `{#`. A VM script is bash and
// may hold `{{` (docker's --format), so literal text goes inside {% raw %}...{% endraw %}.
// Ansible's Jinja runs with trim_blocks: the newline right after {% endraw %} would be
// dropped, so a literal part never follows an {% endraw %} directly (each literal is one
// whole raw block; between two of them there is always an expression).
import type { Secret } from '../engine/sh.ts';

export type Part = string | { expr: string };

const RAW_END = /\{%[-+]?\s*endraw\s*[-+]?%\}/;

/** A Jinja template from literal text and expressions. `raw`: every literal part is
 *  wrapped (scripts); otherwise only literals holding a `{` are (a plain `KEY=value`
 *  stays readable). */
export function template(parts: Part[], opts: { raw?: boolean } = {}): string {
  const merged: Part[] = [];
  for (const p of parts) {
    if (typeof p === 'string' && typeof merged[merged.length - 1] === 'string') merged[merged.length - 1] += p;
    else if (p !== '') merged.push(p);
  }
  return merged
    .map((p) => {
      if (typeof p !== 'string') return `{{ ${p.expr} }}`;
      if (RAW_END.test(p)) throw new Error(`cannot export text holding {% endraw %} to Ansible: ${p.slice(0, 60)}`);
      // every Jinja tag opens with `{`: a literal without one cannot start a tag
      return opts.raw || p.includes('{') ? `{% raw %}${p}{% endraw %}` : p;
    })
    .join('');
}

/** Python's shlex.quote: Ansible splits ansible_ssh_common_args with shlex.split. */
export function shlexQuote(s: string): string {
  if (s === '') return "''";
  if (!/[^\w@%+=:,./-]/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');

/** Jinja string literal for text that needs no escapes (else undefined): Ansible doubles
 *  backslashes inside expressions, so escapes cannot be relied on. */
function plainLiteral(s: string): string | undefined {
  return /^[A-Za-z0-9_=.:/@%+, -]*$/.test(s) ? `'${s}'` : undefined;
}

export interface SecretRef {
  pre: string; // literal text before the secret input (e.g. `ACCESS_KEY_SECRET=`)
  expr: string; // a variable reference (never a value)
  post: string;
}

/** Where each secret a script carries comes from: a secret input by name
 *  (`meshbook_secrets.NAME`), or, for a value derived from one (a digest of a file that
 *  holds it), a key of `meshbook_derived`. Both live in secrets.yml, never in the playbook. */
export class SecretBook {
  private derived = new Map<string, string>(); // key -> value
  private byValue = new Map<string, string>(); // owner, name and value -> key

  /** `inputs`: the secret inputs of the runbooks, name -> value. */
  constructor(readonly inputs: Record<string, string>) {}

  ref(s: Secret, owner: string): SecretRef {
    const named = Object.entries(this.inputs).filter(([, v]) => v !== '');
    const exact = named.find(([, v]) => v === s.value);
    if (exact) return { pre: '', expr: `meshbook_secrets.${exact[0]}`, post: '' };
    // a value that embeds one input once, e.g. the env-file line `ACCESS_KEY_SECRET=<secret>`
    const inside = named
      .filter(([, v]) => v.length >= 8 && s.value.split(v).length === 2)
      .sort((a, b) => b[1].length - a[1].length)[0];
    if (inside) {
      const [pre, post] = s.value.split(inside[1]);
      return { pre, expr: `meshbook_secrets.${inside[0]}`, post };
    }
    return this.derivedRef(s, owner);
  }

  private derivedRef(s: Secret, owner: string): SecretRef {
    const id = `${owner}\0${s.name}\0${s.value}`;
    let key = this.byValue.get(id);
    if (!key) {
      const base = slug(`${owner} ${s.name}`) || 'secret';
      key = base;
      for (let n = 2; this.derived.has(key); n++) key = `${base}_${n}`;
      this.derived.set(key, s.value);
      this.byValue.set(id, key);
    }
    return { pre: '', expr: `meshbook_derived.${key}`, post: '' };
  }

  /** A Jinja expression that renders the secret as one bash word. */
  shellWord(s: Secret, owner: string): string {
    const r = this.ref(s, owner);
    if (!r.pre && !r.post) return `${r.expr} | quote`;
    const pre = plainLiteral(r.pre);
    const post = plainLiteral(r.post);
    if (pre !== undefined && post !== undefined)
      return `(${[r.pre && pre, r.expr, r.post && post].filter(Boolean).join(' ~ ')}) | quote`;
    // prefix/suffix that would need escapes: keep the whole derived value in secrets.yml
    return `${this.derivedRef(s, owner).expr} | quote`;
  }

  /** A secret already quoted as a bash word (recovered from a hand-built script): the
   *  word itself goes to secrets.yml, the reference needs no quoting. */
  wordRef(name: string, word: string, owner: string): string {
    return this.derivedRef({ name: `${name} word`, value: word } as Secret, owner).expr;
  }

  /** The values secrets.yml holds. */
  values(): { secrets: Record<string, string>; derived: Record<string, string> } {
    return { secrets: { ...this.inputs }, derived: Object.fromEntries(this.derived) };
  }
}
