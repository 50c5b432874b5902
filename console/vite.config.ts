// Builds the console's browser code (web/) into dist/web with hashed names and a manifest, which
// the server reads (src/consoleAssets.ts). Part of `npm run build`, hence of `npm start` and `npm test`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/assets/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    manifest: true,
    assetsDir: '',
    target: 'es2022',
    modulePreload: { polyfill: false },
    rolldownOptions: { input: 'web/main.tsx' },
  },
});
