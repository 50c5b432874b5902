// The console's built browser code and styles (Vite writes them to console/dist/web with hashed
// names and a manifest), read once at start and served from memory: every asset comes from this
// server, so the console works offline and under a strict Content-Security-Policy.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the build puts them: console/dist/web, seen from dist/server/ (built) or from src/ (tests). */
export const BUILT_WEB_DIRECTORY = [new URL('../web/', import.meta.url), new URL('../dist/web/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((directory) => existsSync(join(directory, '.vite', 'manifest.json'))) ?? fileURLToPath(new URL('../web/', import.meta.url));
const ENTRY = 'web/main.tsx';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

export interface ConsoleAssets {
  /** By file name, e.g. `main-3f2a1b.js`. */
  files: Map<string, ConsoleAsset>;
  script: string;
  styles: string[];
}

interface ManifestChunk {
  file: string;
  css?: string[];
}

export class ConsoleNotBuiltError extends Error {
  constructor(directory: string, cause: unknown) {
    super(`the web console is not built (${directory}: ${(cause as Error).message}); run npm run build`);
    this.name = 'ConsoleNotBuiltError';
  }
}

export function loadConsoleAssets(directory = BUILT_WEB_DIRECTORY): ConsoleAssets {
  let manifest: Record<string, ManifestChunk>;
  try {
    manifest = JSON.parse(readFileSync(join(directory, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>;
  } catch (err) {
    throw new ConsoleNotBuiltError(directory, err);
  }
  const entry = manifest[ENTRY];
  if (entry === undefined) throw new ConsoleNotBuiltError(directory, new Error(`the manifest has no entry ${ENTRY}`));
  const files = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined || !statSync(path).isFile()) continue;
    files.set(name, { body: readFileSync(path), contentType });
  }
  return { files, script: entry.file, styles: entry.css ?? [] };
}
