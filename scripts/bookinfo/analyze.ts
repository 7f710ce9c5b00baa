// `istioctl analyze` output: "No validation issues found" is clean; anything else is a
// list of messages such as `Warning [IST0102] (Namespace default) The namespace is not
// enabled for Istio injection...`. Pure.

export function analyzeResult(output: string, code: number): { ok: boolean; lines: string[] } {
  const text = output.replace(/\r/g, '');
  if (/No validation issues found/.test(text) && code === 0) {
    return {
      ok: true,
      lines: [
        text
          .split('\n')
          .find((l) => /No validation issues found/.test(l))!
          .replace(/^\W+/, '')
          .trim(),
      ],
    };
  }
  const issues = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(Error|Warning|Info)\s*\[IST\d+\]/.test(l));
  if (issues.length) {
    return {
      ok: false,
      lines: [
        ...issues.map((l) => `issue: ${l}`),
        `error: istioctl analyze found ${issues.length} issue(s); fix ` +
          `them (see https://istio.io/latest/docs/reference/config/analysis/)`,
      ],
    };
  }
  const first = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, 5);
  return {
    ok: false,
    lines: [
      ...first.map((l) => `output: ${l}`),
      `error: istioctl analyze did not report "No validation issues found" (exit ${code})`,
    ],
  };
}
