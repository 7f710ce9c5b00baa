#!/usr/bin/env node
// Entry point for the `meshbook` bin: run the TypeScript CLI through tsx.
// NO_COLOR (https://no-color.org): chalk and ora read FORCE_COLOR, not NO_COLOR; set it
// before they load, so no colour code is printed even on a terminal.
if (process.env.NO_COLOR) process.env.FORCE_COLOR = '0';
const { register } = await import('tsx/esm/api');
register();
await import('../scripts/cli.ts');
