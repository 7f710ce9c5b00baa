// The one reader of `name=weight,name=weight` lists (WEIGHTS in a traffic-shift env, the
// verifier's --expect). It only splits; each caller applies its own contract: traffic-shift
// wants the hello2 subsets in whole numbers summing to 100, the verifier any buckets with
// weights >= 0.

export interface WeightItem {
  /** the entry as written (trimmed) */
  item: string;
  /** undefined when the entry has no '=' or nothing before it */
  name?: string;
  value?: string;
}

/** Split on commas, then on the first '='; names and values trimmed. Empty entries are kept (item ''). */
export function splitWeightList(raw: string): WeightItem[] {
  return raw.split(',').map((s) => {
    const item = s.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) return { item };
    return { item, name: item.slice(0, eq).trim(), value: item.slice(eq + 1).trim() };
  });
}
