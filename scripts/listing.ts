// `meshbook list`: the runbooks and their numbered steps, as data (the shape of --json).
// The build (bin/build.js) writes it next to the compiled CLI, dist/scripts/listing.json,
// so that the compiled `meshbook list` does not load every step's module (about a hundred
// of them: most of its start-up time). From the TypeScript (tsx), where no such file sits
// next to this module, it is computed from the runbooks; both print the same.
import fs from 'node:fs';
import type { Runbook } from './engine/types.ts';

export type Listing = Array<{
  name: string;
  title: string;
  article: string;
  steps: Array<{ id: string; title: string; article: string }>;
}>;

/** Where the build writes the listing: beside this module, i.e. only in dist/scripts/. */
export const LISTING_FILE = new URL('./listing.json', import.meta.url);

export function listingOf(rbs: Runbook[]): Listing {
  return rbs.map((r) => ({
    name: r.name,
    title: r.title,
    article: r.article,
    steps: r.steps.map((s) => ({ id: s.id, title: s.title, article: s.article })),
  }));
}

export async function listing(): Promise<Listing> {
  try {
    return JSON.parse(fs.readFileSync(LISTING_FILE, 'utf8')) as Listing;
  } catch {
    return listingOf((await import('./runbooks.ts')).RUNBOOKS);
  }
}
