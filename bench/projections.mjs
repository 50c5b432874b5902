#!/usr/bin/env node
// bench: projections
// `npm run bench:projections`: how fast the projections service applies the event log and the
// telemetry stream to SQLite, and how long `mes projections rebuild` takes, on a generated history.
//
//   npm run build && npm run bench:projections -- [--events 100000] [--nats URL]
//
// Without --nats it starts an isolated nats-server (platform/dist/testing). The history (every
// kind of event, one event per append, plus 3 readings per incident) is generated into the event
// stream first; then the projections service starts on an empty SQLite file and the time until it
// has applied everything is measured; then a rebuild from the log into a second empty file is timed.
// Prints lines for people, then the result line of bench/protocol.mjs. A rebuild of fewer than
// 1,000,000 events is also given as the time 1M would take at the same rate (marked as such).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, printResult, row } from './protocol.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();
const TARGET_EVENTS = Number(args.events ?? 100_000);
const PLANTS = ['P0', 'P1'];

const load = (path) => import(join(root, path));
let platform, projections, synthetic;
try {
  platform = await load('platform/dist/index.js');
  projections = await load('services/projections/dist/index.js');
  synthetic = await load('services/projections/dist/testing/syntheticHistory.js');
} catch (err) {
  console.error(`bench:projections needs the build: run npm run build first (${err.message})`);
  process.exit(1);
}
const { startNatsServer } = await load('platform/dist/testing/natsServer.js');

const dataDir = mkdtempSync(join(tmpdir(), 'mes-bench-projections-'));
const nats = args.nats ? undefined : await startNatsServer();
const natsUrl = args.nats ?? nats.url;
const env = {
  NATS_URL: natsUrl,
  MES_CONFIG: join(root, 'bench/plants.bench.yaml'),
  DATA_DIR: dataDir,
  SQL_URL: `sqlite:${join(dataDir, 'live.sqlite')}`,
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  LOG_LEVEL: 'warn',
  API_TOKEN: 'bench-projections-api-token-0123456789',
  APPROVAL_SECRET: 'bench-projections-approval-secret-0123456789abcdef',
};
const rate = (n, ms) => Math.round((n * 1000) / ms);
const fmt = (n) => n.toLocaleString('en-US');

let generator, live;
try {
  // The history: enough incidents for the target number of events.
  const perIncident = synthetic.SYNTHETIC_OUTCOMES.reduce((sum, _, i) => sum + synthetic.syntheticIncident('P0', i, 'X').appends.length, 0) / synthetic.SYNTHETIC_OUTCOMES.length;
  const incidents = Math.ceil(TARGET_EVENTS / perIncident / PLANTS.length);
  generator = await platform.startRuntime('bench-generator', {}, { ...env, SQL_URL: `sqlite:${join(dataDir, 'unused.sqlite')}` });
  const genStart = performance.now();
  const written = await synthetic.writeSyntheticHistory(generator.deps.eventStore, generator.deps.nc, { plants: PLANTS, incidents, prefix: 'X', concurrency: 128 });
  const genMs = performance.now() - genStart;
  console.error(`generated ${fmt(written.events)} events and ${fmt(written.readings)} readings in ${(genMs / 1000).toFixed(1)} s`);

  // The live projection, from an empty database to the end of the log.
  const liveStart = performance.now();
  live = await platform.startRuntime('bench-projections', { projections: projections.start }, env);
  const sources = () => globalThis.fetch(`${live.httpUrl}/api/projections/status`, { headers: { authorization: `Bearer ${env.API_TOKEN}` } }).then((r) => r.json());
  for (;;) {
    const status = await sources();
    if (status.sources.every((s) => s.upToDate === true)) break;
    if (performance.now() - liveStart > 600_000) throw new Error(`the projection did not catch up in 10 minutes: ${JSON.stringify(status)}`);
    await sleep(20);
  }
  const liveMs = performance.now() - liveStart;
  await live.stop();
  live = undefined;

  // The rebuild, into an empty database of its own.
  const sink = await platform.openSqlSink(`sqlite:${join(dataDir, 'rebuilt.sqlite')}`);
  let rebuilt;
  try {
    rebuilt = await projections.rebuildReportingTables(projections.rebuildDeps({ sink, eventStore: generator.deps.eventStore, nc: generator.deps.nc, eventsInJetStream: true }));
  } finally {
    await sink.close();
  }

  const items = written.events + written.readings;
  const result = {
    events: written.events,
    readings: written.readings,
    generateMs: Math.round(genMs),
    live: { ms: Math.round(liveMs), itemsPerSecond: rate(items, liveMs), eventsPerSecond: rate(written.events, liveMs) },
    rebuild: { ms: rebuilt.elapsedMs, itemsPerSecond: rate(items, rebuilt.elapsedMs), eventsApplied: rebuilt.events.applied, readingsApplied: rebuilt.telemetry.applied },
  };
  console.log(`projections into SQLite: ${fmt(written.events)} events + ${fmt(written.readings)} readings applied live in ${(liveMs / 1000).toFixed(1)} s = ${fmt(result.live.itemsPerSecond)} items/s (${fmt(result.live.eventsPerSecond)} events/s, including start-up)`);
  console.log(`rebuild of every table from the log: ${(rebuilt.elapsedMs / 1000).toFixed(1)} s for ${fmt(rebuilt.events.applied)} events + ${fmt(rebuilt.telemetry.applied)} readings = ${fmt(result.rebuild.itemsPerSecond)} items/s`);
  const rebuildSecondsPerMillion = +((rebuilt.elapsedMs / 1000) * (1_000_000 / written.events)).toFixed(1);
  printResult('projections', [
    row({ measure: `live projection into SQLite: ${fmt(written.events)} events (+ ${fmt(written.readings)} readings)`, value: result.live.eventsPerSecond, unit: 'events/s', target: '>= 20,000 events/s', note: 'includes the service start-up' }),
    row({
      measure: written.events >= 1_000_000 ? `rebuild of ${fmt(written.events)} events` : `rebuild of 1M events (${fmt(written.events)} measured, scaled)`,
      value: written.events >= 1_000_000 ? +(rebuilt.elapsedMs / 1000).toFixed(1) : rebuildSecondsPerMillion,
      unit: 's',
      target: '<= 60 s',
    }),
  ]);
} finally {
  await live?.stop().catch(() => undefined);
  await generator?.stop().catch(() => undefined);
  await nats?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
