#!/usr/bin/env node
// The `hart` command: loads the TypeScript sources through tsx, then runs the CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
