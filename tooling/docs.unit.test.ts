// The documentation of a clone must stand on its own: no pointer outside the repository, every
// relative link leads to a file that exists, and every `npm run` script and `npx` command the docs
// show is one a fresh `npm ci` provides.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', '.git', 'data', 'coverage']);

function markdownFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIPPED_DIRECTORIES.has(entry.name) ? [] : markdownFiles(join(directory, entry.name));
    return entry.name.endsWith('.md') ? [join(directory, entry.name)] : [];
  });
}

const docs = markdownFiles(root).map((path) => ({ path, name: relative(root, path), text: readFileSync(path, 'utf8') }));

interface PackageJson {
  name: string;
  scripts?: Record<string, string>;
  workspaces?: string[];
}
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
const workspaceScripts = new Map<string, Set<string>>(
  (rootPackage.workspaces ?? []).flatMap((pattern) => {
    const directories = pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(pattern.slice(0, -2), entry.name))
      : [pattern];
    return directories
      .filter((directory) => existsSync(join(root, directory, 'package.json')))
      .map((directory) => {
        const pkg = JSON.parse(readFileSync(join(root, directory, 'package.json'), 'utf8')) as PackageJson;
        return [pkg.name, new Set(Object.keys(pkg.scripts ?? {}))] as const;
      });
  }),
);

describe('the documentation of a clone', () => {
  it('finds the README and the interface reference', () => {
    expect(docs.map((d) => d.name)).toEqual(expect.arrayContaining(['README.md', 'docs/CONTRACT.md', 'docs/ARCHITECTURE.md']));
  });

  it('never points outside the repository', () => {
    const outside = docs.flatMap((doc) =>
      [...doc.text.matchAll(/(?:\.\.\/)+shared\/[^\s)`'"]*/g)].map((match) => `${doc.name}: ${match[0]}`),
    );
    expect(outside).toEqual([]);
  });

  it('links only to files that exist in the repository', () => {
    const broken = docs.flatMap((doc) =>
      [...doc.text.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => match[1]!.split('#')[0]!)
        .filter((target) => target !== '' && !/^[a-z]+:/i.test(target))
        .filter((target) => {
          const path = resolve(dirname(doc.path), decodeURIComponent(target));
          return relative(root, path).startsWith('..') || !existsSync(path);
        })
        .map((target) => `${doc.name}: ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('shows only npm scripts that exist', () => {
    const missing = docs.flatMap((doc) =>
      [...doc.text.matchAll(/npm run ([a-z][\w:.-]*)(?: (?:-w|--workspace)[ =](\S+))?/g)]
        .filter(([, script, workspace]) => {
          const scripts = workspace === undefined ? new Set(Object.keys(rootPackage.scripts ?? {})) : workspaceScripts.get(workspace);
          return scripts === undefined || !scripts.has(script!.replace(/[:.]$/, ''));
        })
        .map(([command]) => `${doc.name}: ${command}`),
    );
    expect(missing).toEqual([]);
  });

  it('shows only npx commands a fresh npm ci installs', () => {
    const missing = docs.flatMap((doc) =>
      [...doc.text.matchAll(/npx ([a-z@][\w@/.-]*)/g)]
        .map(([, bin]) => bin!)
        .filter((bin) => !existsSync(join(root, 'node_modules', '.bin', bin)))
        .map((bin) => `${doc.name}: npx ${bin}`),
    );
    expect(missing).toEqual([]);
  });
});
