// Building the bash that goes to a VM. Every interpolated value is quoted by zx's
// `quote` (never by hand); an array becomes one quoted word per element, so a command
// is written as an argument array. A Secret is quoted into the text that is sent over
// stdin and masked in the text that is shown (plans, dry runs, logs).
import { quote } from 'zx';

export class Secret {
  constructor(readonly name: string, readonly value: string) {}
  toString(): string { return `***${this.name}***`; }
  toJSON(): string { return this.toString(); }
}

/** A fragment that is inserted as is (already-built shell, e.g. another script). */
export class Raw {
  constructor(readonly text: string, readonly display: string = text) {}
}

export type Kind = 'probe' | 'mutate';
export interface Script {
  kind: Kind;
  text: string;     // what runs (may contain secrets; never printed)
  display: string;  // what is shown (secrets masked)
}

type Value = string | number | Secret | Raw | Script | ReadonlyArray<string | number | Secret>;

function one(v: string | number | Secret, reveal: boolean): string {
  if (v instanceof Secret) return reveal ? quote(v.value) : quote(v.toString());
  return quote(String(v));
}

// Raw template text, so backslashes reach bash as written ('%s\n', sed's \?, line
// continuations); only JS's own escapes for `${` and a backtick are undone.
const rawText = (s: string) => s.replace(/\\(\$\{|`)/g, '$1');

function render(strings: TemplateStringsArray, values: Value[], reveal: boolean): string {
  const parts = strings.raw.map(rawText);
  let out = parts[0];
  values.forEach((v, i) => {
    if (v instanceof Raw) out += reveal ? v.text : v.display;
    else if (typeof v === 'object' && v !== null && 'kind' in v && 'text' in v) out += reveal ? v.text : v.display;
    else if (Array.isArray(v)) out += v.map((x) => one(x, reveal)).join(' ');
    else out += one(v as string | number | Secret, reveal);
    out += parts[i + 1];
  });
  return dedent(out);
}

function dedent(s: string): string {
  const lines = s.replace(/^\n/, '').replace(/\n\s*$/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n');
}

function tag(kind: Kind) {
  return (strings: TemplateStringsArray, ...values: Value[]): Script => ({
    kind,
    text: render(strings, values, true),
    display: render(strings, values, false),
  });
}

/** A read-only script: runs even under --dry-run. */
export const probe = tag('probe');
/** A script that changes the VM: printed, not run, under --dry-run. */
export const mutate = tag('mutate');

/** Shell helpers every VM script may call; sent ahead of each script. */
export const PRELUDE = String.raw`set -euo pipefail
export LC_ALL=C
# write_file DEST MODE: stdin -> DEST through a temp file in the same directory and a
# rename, so DEST is never left half-written; the temp file gets MODE before content.
write_file() {
  local dest=$1 mode=$2 tmp
  tmp=$(mktemp "$dest.meshbook.XXXXXX")
  chmod "$mode" "$tmp"
  if ! cat > "$tmp"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$dest"
}`;
