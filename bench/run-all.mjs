#!/usr/bin/env node
// `npm run bench`: every benchmark of bench/ in turn, then one table of their figures, each beside
// its baseline measured in the same run and the ratio the target reads (bench/protocol.mjs).
//
//   npm run bench [-- --only ingest,latency] [--quick] [--markdown]
//
// A benchmark is a script of bench/ holding the line `// bench: <name>`; it prints what it likes,
// and as its last stdout line its rows. `--quick` runs each with smaller sizes (a smoke run: its
// figures are not the ones the targets speak of). `--markdown` also prints the table as Markdown,
// with the machine it ran on, for README. The table goes to stdout; each benchmark's own output
// goes by as it runs. Needs the build (`npm run build`); the runner does not build.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './protocol.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();

/** The order they run in; a benchmark not listed here runs after these. */
const ORDER = ['ingest', 'projections', 'latency', 'allocation', 'open-workflows'];
/** Smaller sizes for `--quick`. */
const QUICK_ARGS = {
  ingest: ['--n', '10000'],
  projections: ['--events', '20000'],
  latency: ['--burst', '50', '--sustained', '300', '--single', '10'],
  allocation: ['--past', '100,10000', '--decisions', '50'],
  'open-workflows': ['--open', '1000'],
};

function discover() {
  const found = [];
  for (const file of readdirSync(join(root, 'bench'))) {
    if (!file.endsWith('.mjs') || file === 'run-all.mjs') continue;
    const head = readFileSync(join(root, 'bench', file), 'utf8').split('\n').slice(0, 5);
    const name = head.map((line) => /^\/\/ bench: ([\w-]+)\s*$/.exec(line)?.[1]).find(Boolean);
    if (name) found.push({ name, file });
  }
  const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
  return found.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** Runs one benchmark, passing its output through; resolves with its rows or why there are none. */
function run({ name, file }, scriptArgs) {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [join('bench', file), ...scriptArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stderr.write(chunk);
    });
    child.once('error', (err) => resolve({ error: err.message }));
    child.once('exit', (code, signal) => {
      const seconds = Math.round((Date.now() - startedAt) / 1000);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        const result = JSON.parse(last);
        if (result.bench !== name || !Array.isArray(result.rows)) throw new Error('not a result line');
        resolve({ rows: result.rows, seconds, ...(code === 0 ? {} : { error: `exited with ${signal ?? code}` }) });
      } catch {
        resolve({ error: `${name} printed no result (exit ${signal ?? code})`, seconds });
      }
    });
  });
}

const fmt = (value) => (typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: 3 }) : value === null || value === undefined ? '-' : String(value));
const ratioOf = (r) => (typeof r.ratio === 'number' ? `${r.ratio.toFixed(3)}x` : '-');

function textTable(lines) {
  const header = ['benchmark', 'measure', 'value', 'baseline (same run)', 'ratio', 'target'];
  const rows = lines.map((l) => [l.bench, l.measure, l.value, l.baseline, l.ratio, l.target]);
  const widths = header.map((h, i) => Math.min(70, Math.max(h.length, ...rows.map((r) => String(r[i]).length))));
  const cell = (text, i) => String(text).slice(0, widths[i]).padEnd(widths[i]);
  return [header.map(cell).join('  '), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => r.map(cell).join('  '))].join('\n');
}

function markdownTable(lines) {
  const escape = (text) => String(text).replaceAll('|', '\\|');
  return [
    '| benchmark | measure | value | baseline (same run) | ratio | target |',
    '|---|---|---|---|---|---|',
    ...lines.map((l) => `| ${[l.bench, l.measure, l.value, l.baseline, l.ratio, l.target].map(escape).join(' | ')} |`),
  ].join('\n');
}

const only = args.only ? new Set(String(args.only).split(',')) : undefined;
const benches = discover().filter((b) => only === undefined || only.has(b.name));
if (benches.length === 0) {
  console.error(`no benchmark to run${only ? ` named ${[...only].join(', ')}` : ''}; known: ${discover().map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the start`;
console.error(`npm run bench: ${benches.map((b) => b.name).join(', ')}${args.quick ? ' (quick sizes: not the figures of the targets)' : ''}\nmachine: ${machine}`);

const lines = [];
let failed = 0;
for (const [i, bench] of benches.entries()) {
  console.error(`\n[${i + 1}/${benches.length}] ${bench.name} (bench/${bench.file})`);
  const result = await run(bench, args.quick ? (QUICK_ARGS[bench.name] ?? []) : []);
  if (result.error) failed++;
  for (const r of result.rows ?? []) {
    lines.push({
      bench: bench.name,
      measure: r.measure,
      value: `${fmt(r.value)} ${r.unit ?? ''}`.trim(),
      baseline: r.baseline === null || r.baseline === undefined ? '-' : `${fmt(r.baseline)} ${r.unit ?? ''} (${r.baselineName ?? 'baseline'})`,
      ratio: ratioOf(r),
      target: [r.target ?? '-', r.note ? `(${r.note})` : ''].join(' ').trim(),
    });
  }
  if (result.error) lines.push({ bench: bench.name, measure: `FAILED: ${result.error}`, value: '-', baseline: '-', ratio: '-', target: '-' });
  console.error(`[${i + 1}/${benches.length}] ${bench.name}: ${result.error ? `failed (${result.error})` : `done in ${result.seconds} s`}`);
}

console.log(`\nmachine: ${machine}\n`);
console.log(textTable(lines));
if (args.markdown) console.log(`\n${markdownTable(lines)}\n\nMeasured on ${machine}.`);
if (failed > 0) {
  console.log(`\n${failed} benchmark(s) failed: see their output above.`);
  process.exitCode = 1;
}
