#!/usr/bin/env node
// `mes` (CONTRACT §5): runs the built CLI; see cli/src/mesCli.ts.
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const entry = new URL('../dist/mes.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('mes: the project is not built yet: run `npm run build` in the project root first\n');
  process.exit(1);
}
await import(entry.href);
