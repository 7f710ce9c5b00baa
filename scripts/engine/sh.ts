// Building the bash that goes to a VM. Every interpolated value is quoted by zx's
// `quote` (never by hand); an array becomes one quoted word per element, so a command
// is written as an argument array. A Secret is quoted into the text that is sent over
// stdin and masked in the text that is shown (plans, dry runs, logs).
import { quote } from './lazy.ts';

export class Secret {
  constructor(
    readonly name: string,
    readonly value: string,
  ) {}
  toString(): string {
    return `***${this.name}***`;
  }
  toJSON(): string {
    return this.toString();
  }
}

/** A fragment that is inserted as is (already-built shell, e.g. another script). */
export class Raw {
  constructor(
    readonly text: string,
    readonly display: string = text,
  ) {}
}

export type Kind = 'probe' | 'mutate';
export interface Script {
  kind: Kind;
  text: string; // what runs (may contain secrets; never printed)
  display: string; // what is shown (secrets masked)
}

type Value = string | number | Secret | Raw | Script | ReadonlyArray<string | number | Secret>;

type SecretFn = (s: Secret) => string;
const REVEAL: SecretFn = (s) => quote(s.value);
const MASK: SecretFn = (s) => quote(s.toString());

// Raw template text, so backslashes reach bash as written ('%s\n', sed's \?, line
// continuations); only JS's own escapes for `${` and a backtick are undone.
const rawText = (s: string) => s.replace(/\\(\$\{|`)/g, '$1');

const sources = new WeakMap<Script, { strings: TemplateStringsArray; values: Value[] }>();

function one(v: string | number | Secret, secret: SecretFn): string {
  return v instanceof Secret ? secret(v) : quote(String(v));
}

function render(strings: TemplateStringsArray, values: Value[], secret: SecretFn): string {
  const parts = strings.raw.map(rawText);
  let out = parts[0];
  values.forEach((v, i) => {
    if (v instanceof Raw) out += secret === MASK ? v.display : v.text;
    else if (typeof v === 'object' && v !== null && 'kind' in v && 'text' in v) out += renderWith(v as Script, secret);
    else if (Array.isArray(v)) out += v.map((x) => one(x, secret)).join(' ');
    else out += one(v as string | number | Secret, secret);
    out += parts[i + 1];
  });
  return dedent(out);
}

/** The script with each secret rendered by `secret` (e.g. as a reference to a variable
 *  that another tool fills in, as the Ansible export does). */
export function renderWith(script: Script, secret: SecretFn): string {
  const src = sources.get(script);
  if (!src) return secret === REVEAL ? script.text : script.display;
  return render(src.strings, src.values, secret);
}

/** The secrets a script carries, by name (none of their values). */
export function secretsOf(script: Script): Secret[] {
  const found: Secret[] = [];
  renderWith(script, (s) => {
    found.push(s);
    return '';
  });
  return found;
}

function dedent(s: string): string {
  const lines = s
    .replace(/^\n/, '')
    .replace(/\n\s*$/, '')
    .split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n');
}

// text and display are rendered when first read, not when the script is written: the
// runbooks build many scripts when their modules load, and `meshbook list` or `--help`
// then need neither the text nor zx's quote. The values are taken as they are now (arrays
// copied), so the text is the one the template had when it was written.
function tag(kind: Kind) {
  return (strings: TemplateStringsArray, ...raw: Value[]): Script => {
    const values = raw.map((v) => (Array.isArray(v) ? [...v] : v)) as Value[];
    let text: string | undefined;
    let display: string | undefined;
    const sc: Script = {
      kind,
      get text() {
        return (text ??= render(strings, values, REVEAL));
      },
      get display() {
        return (display ??= render(strings, values, MASK));
      },
    };
    sources.set(sc, { strings, values });
    return sc;
  };
}

/** A read-only script: runs even under --dry-run. */
export const probe = tag('probe');
/** A script that changes the VM: printed, not run, under --dry-run. */
export const mutate = tag('mutate');

/** Shell helpers every VM script may call; sent ahead of each script. */
export const PRELUDE = String.raw`set -euo pipefail
export LC_ALL=C
# write_file DEST MODE [CONTENT]: CONTENT (or stdin) -> DEST through a temp file in the
# same directory and a rename, so DEST is never left half-written. The temp file is
# created exclusively (noclobber: O_EXCL, so nothing planted there is followed), with no
# more than MODE from the start (umask), then chmod MODE (a directory's default ACL
# overrides the umask), all before any content. It never outlives a failure: the work
# runs in a subshell whose EXIT trap removes the temp file once it was created (a failed
# chmod, write or rename - an immutable DEST, a mount point, a directory in the way: mv -T
# never moves into it - and HUP/INT/TERM, e.g. a stopped run), so a secret is never left
# in a second file; DEST stays as it was. No mktemp: a fleet runs this on every VM.
# CONTENT as an argument spares a cat.
write_file() {
  local dest=$1 mode=$((8#$2)) tmp="$1.meshbook.$$.$RANDOM$RANDOM" mask
  printf -v mask '%04o' $((0777 & ~mode))
  (
    made=
    trap '[ -z "$made" ] || rm -f -- "$tmp"' EXIT
    trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
    umask "$mask"; set -C
    : > "$tmp" || exit 1
    made=1
    chmod "$2" "$tmp" || exit 1
    if [ $# -ge 3 ]; then printf '%s' "$3" >| "$tmp"; else cat >| "$tmp"; fi || exit 1
    if ! mv -fT -- "$tmp" "$dest"; then
      echo "write_file: $dest was not replaced (left as it was, temporary copy removed)" >&2
      exit 1
    fi
    made=
  )
}
# nap SECONDS: sleep without a process per tick (a fleet polls on every VM): a read that
# times out on a pipe this shell holds both ends of, opened once per shell (one fork, no
# exec; bash >= 4.1). nap_close before starting a daemon, which would inherit the pipe.
__mb_nap_fd=
nap() {
  [ -n "$__mb_nap_fd" ] || exec {__mb_nap_fd}<> <(:)
  read -r -t "$1" -u "$__mb_nap_fd" _ || true
}
nap_close() {
  if [ -n "$__mb_nap_fd" ]; then exec {__mb_nap_fd}>&-; __mb_nap_fd=; fi
}`;
