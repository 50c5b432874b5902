import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests run against the TypeScript sources, so workspace packages resolve to src, not dist.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@mes\/contracts$/, replacement: here('./contracts/src/index.ts') },
      { find: /^@mes\/platform$/, replacement: here('./platform/src/index.ts') },
      { find: /^@mes\/platform\/testing$/, replacement: here('./platform/src/testing/index.ts') },
      { find: /^@mes\/console$/, replacement: here('./console/src/index.ts') },
      { find: /^@mes\/platform\/decider$/, replacement: here('./platform/src/domain/decider.ts') },
      { find: /^@mes\/cli$/, replacement: here('./cli/src/index.ts') },
      {
        find: /^@mes\/(ingest|workflow|maintenance|resources|approvals|projections)$/,
        replacement: `${here('./services')}/$1/src/index.ts`,
      },
    ],
  },
  test: {
    reporters: ['default', './tooling/plainSummaryReporter.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['**/*.unit.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'int',
          include: ['**/*.int.test.ts', '**/*.e2e.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
