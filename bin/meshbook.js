#!/usr/bin/env node
// Entry point for the `meshbook` bin: run the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';
register();
await import('../scripts/cli.ts');
