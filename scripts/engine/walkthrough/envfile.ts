// Saving the walkthrough's answers as an env file that `meshbook rebuild --env` reads.
// The file is created 0600 before a byte is written, under a unique temporary name in
// the target's directory, and renamed into place (never a half-written env file, never a
// moment when a secret sits in a file others can read). Secrets go in only with consent;
// otherwise their key is written blank with a comment naming it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { InputSpec } from '../types.ts';
import { expandHome } from '../inventory.ts';

/** One `KEY=value` line that dotenv reads back as exactly `value`: plain when it can,
 *  else quoted; undefined when no quoting carries it (a value with every kind of quote
 *  and a line break). */
export function envLine(key: string, value: string): string | undefined {
  for (const v of [value, `'${value}'`, `"${value}"`, `\`${value}\``]) {
    const line = `${key}=${v}`;
    if (parseDotenv(line)[key] === value) return line;
  }
  return undefined;
}

/** VM_INVENTORY is relative to the env file: rewritten for a file in another directory
 *  (relative when the inventory is below it, absolute otherwise). */
export function rebaseInventory(value: string, fromEnvFile: string, toEnvFile: string): string {
  const abs = path.resolve(path.dirname(fromEnvFile), expandHome(value));
  const rel = path.relative(path.dirname(path.resolve(toEnvFile)), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

export interface EnvContent {
  text: string;
  blank: string[]; // secrets left blank (no consent)
  unwritable: string[]; // values no dotenv line can carry
}

/** The env file's text: the runbook's inputs in their order, then every other key the
 *  answers hold. Secrets only when `withSecrets`. */
export function envContent(opts: {
  runbook: string;
  specs: InputSpec[];
  env: Record<string, string>;
  withSecrets: boolean;
  fromEnvFile: string; // what VM_INVENTORY was relative to
  file: string; // where it is written
}): EnvContent {
  const { specs, env } = opts;
  const secret = new Set(specs.filter((s) => s.secret).map((s) => s.name));
  const names = [...new Set([...specs.map((s) => s.name), ...Object.keys(env)])].filter(
    (k) => env[k] !== undefined && env[k] !== '',
  );
  const lines = [
    `# inputs of the ${opts.runbook} runbook, saved by meshbook ` +
      `walkthrough (plain KEY=value, see envs/${opts.runbook}.env.example)`,
    `# run it again without questions: meshbook rebuild ${opts.runbook} --env ${opts.file}`,
  ];
  const blank: string[] = [];
  const unwritable: string[] = [];
  for (const k of names) {
    if (secret.has(k) && !opts.withSecrets) {
      blank.push(k);
      lines.push(
        `# ${k} is a secret and was not written (you did not allow it): fill it in before meshbook rebuild`,
        `${k}=`,
      );
      continue;
    }
    const value = k === 'VM_INVENTORY' ? rebaseInventory(env[k], opts.fromEnvFile, opts.file) : env[k];
    const line = envLine(k, value);
    if (line) lines.push(line);
    else {
      unwritable.push(k);
      lines.push(`# ${k} holds characters an env file cannot carry: fill it in by hand`, `${k}=`);
    }
  }
  return { text: `${lines.join('\n')}\n`, blank, unwritable };
}

/** Write `text` to `file` with mode 0600 from the start: a new file under a unique name
 *  (O_EXCL) in the same directory, chmod 0600 (a directory's default ACL may override the
 *  umask), content, fsync, then rename over `file`. */
export function writePrivateFile(file: string, text: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Why `answer` cannot be an env file path to write, or undefined. */
export function envPathProblem(answer: string): string | undefined {
  const a = answer.trim();
  if (!a) return 'give a path for the env file, e.g. my-runbook.env';
  const file = path.resolve(expandHome(a));
  const dir = path.dirname(file);
  try {
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) return `${file} is a directory; give a file name in it`;
    if (!fs.existsSync(dir)) return `the directory ${dir} does not exist; create it or choose another path`;
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`;
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    return `cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another path`;
  }
  return undefined;
}
