// Every secret value the run knows is registered here, and every line that leaves the
// process (console, journal, error) passes through `redact`. Belt and braces: secrets
// are also kept out of scripts' shown text (sh.ts) and out of argv (sent over stdin).
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
