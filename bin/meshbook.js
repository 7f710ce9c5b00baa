#!/usr/bin/env node
// Entry point for the `meshbook` bin. Runs the compiled CLI (dist/, see bin/compiled.js)
// when it is at least as new as every .ts file under scripts/ and lab/; otherwise, or with
// MESHBOOK_TSX=1, the TypeScript through tsx, as in development (a few hundred ms slower to
// start: tsx compiles on every run). MESHBOOK_SHOW_ENTRY=1 says on stderr which one runs.
import { staleReason } from './compiled.js';

// NO_COLOR (https://no-color.org): chalk and ora read FORCE_COLOR, not NO_COLOR; set it
// before they load, so no colour code is printed even on a terminal.
if (process.env.NO_COLOR) process.env.FORCE_COLOR = '0';
const why = process.env.MESHBOOK_TSX === '1' ? 'MESHBOOK_TSX=1' : staleReason();
if (process.env.MESHBOOK_SHOW_ENTRY === '1') {
  process.stderr.write(
    why ? `meshbook: scripts/cli.ts through tsx (${why})\n` : 'meshbook: compiled dist/scripts/cli.js\n',
  );
}
if (why) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../scripts/cli.ts');
} else {
  await import('../dist/scripts/cli.js');
}
