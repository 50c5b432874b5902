#!/usr/bin/env node
// bench: ingest
// `npm run bench:ingest`: the ingest service against the reference raw pipe (bench/raw-pipe.mjs),
// on the same brokers, with the same publisher.
//
//   npm run build && npm run bench:ingest -- [--n 100000] [--nats URL --mqtt URL] [--cpu-prof] [--no-sql]
//        [--ingest-node-args max-semi-space-size=32,...]   (node options for the ingest process, without the dashes)
//
// Without --nats/--mqtt it starts an isolated nats-server and mosquitto (platform/dist/testing).
// 1. The raw pipe alone: its rate is the baseline of both figures below.
// 2. Ingest alone, as its own process (services/ingest/dist/main.js, bench/plants.bench.yaml): readings
//    stored in MES_TELEMETRY per second, from the publisher's first publish until the stream holds
//    all of them.
// 3. Readings -> MESData rows (unless --no-sql): the projections service joins (its own process,
//    SQLite); once it has caught up with phase 2's readings, N more are published and timed from the
//    first publish until MESData holds them all, ingest and projections working at once.
// Prints lines for people, then the result line of bench/protocol.mjs. The CPU line (µs of CPU per
// reading of each process, from /proc) is steadier than the rates on a shared machine: compare it
// between runs of a change.
import { setTimeout } from 'node:timers';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, printResult, row } from './protocol.mjs';
import { brokerCpu, cpuSecondsOf, exitedChildrenCpu, runNodeJson as runNodeJsonIn, spent, startServiceProcess } from './serviceProcesses.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rawPipe = join(root, 'bench', 'raw-pipe.mjs');
const runNodeJson = (script, scriptArgs) => runNodeJsonIn(root, script, scriptArgs);
const args = parseArgs();
const N = Number(args.n ?? 100_000);
const STALL_MS = 30_000;
const epochMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const requireFromProject = createRequire(join(root, 'package.json'));
const { connect } = await import(requireFromProject.resolve('@nats-io/transport-node'));
const { jetstreamManager } = await import(requireFromProject.resolve('@nats-io/jetstream'));
const { default: Database } = await import(requireFromProject.resolve('better-sqlite3'));

/** Starts ingest in its own process; `started` resolves once it is subscribed. Logs at warn and above are passed through. */
function startIngestProcess(natsUrl, mqttUrl) {
  const nodeArgs = args['ingest-node-args'] ? String(args['ingest-node-args']).split(',').map((a) => `--${a}`) : [];
  if (args['cpu-prof']) {
    const dir = mkdtempSync(join(tmpdir(), 'mes-ingest-prof-'));
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    console.error(`ingest CPU profile will be written to ${dir}`);
  }
  return startServiceProcess(root, {
    name: 'ingest',
    entry: 'services/ingest/dist/main.js',
    nodeArgs,
    env: {
      NATS_URL: natsUrl,
      MQTT_URL: mqttUrl,
      MES_CONFIG: join(root, 'bench/plants.bench.yaml'),
      MQTT_CLIENT_ID: `bench-ingest-${process.pid}`,
      LOG_LEVEL: 'info',
      PLANTS: '',
      HTTP_PORT: '0',
      DATA_DIR: dataDir,
    },
    ready: (msg) => msg === 'subscribed to telemetry',
  });
}

// The runner keeps development secrets under DATA_DIR; the bench's are thrown away.
const dataDir = mkdtempSync(join(tmpdir(), 'mes-bench-data-'));
let brokers;
let natsUrl = args.nats;
let mqttUrl = args.mqtt;
if (natsUrl === undefined || mqttUrl === undefined) {
  const { startNatsServer } = await import(join(root, 'platform/dist/testing/natsServer.js'));
  const { startMosquitto } = await import(join(root, 'platform/dist/testing/mosquitto.js'));
  const nats = await startNatsServer();
  // The broker queues what ingest has not read yet; keep every reading of the run.
  const mosquitto = await startMosquitto({ maxQueuedMessages: N * 2 });
  brokers = [nats, mosquitto];
  natsUrl = nats.url;
  mqttUrl = mosquitto.url;
}

try {
  const rawCpuBefore = { self: exitedChildrenCpu(), ...brokerCpu() };
  const raw = await runNodeJson(rawPipe, ['--nats', natsUrl, '--mqtt', mqttUrl, '--n', String(N)]);
  const rawCpuAfter = { self: exitedChildrenCpu(), ...brokerCpu() };

  const ingest = startIngestProcess(natsUrl, mqttUrl);
  await ingest.started;
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const state = async () => {
    const [telemetry, events, deadLetters] = await Promise.all(['MES_TELEMETRY', 'MES_EVENTS', 'MES_DEAD_LETTERS'].map((s) => jsm.streams.info(s)));
    return { telemetry: telemetry.state.messages, events: events.state.messages, deadLetters: deadLetters.state.messages };
  };
  const before = await state();
  const ingestCpuBefore = { self: cpuSecondsOf(ingest.child.pid), publisher: exitedChildrenCpu(), ...brokerCpu() };

  const publisherDone = runNodeJson(rawPipe, ['--publish-only', '--n', String(N), '--mqtt', mqttUrl, '--qos', '1']);
  let publisher;
  publisherDone.then((p) => (publisher = p), () => undefined);
  let stored = 0;
  let doneAt;
  let lastProgressAt = epochMs();
  for (;;) {
    const count = (await jsm.streams.info('MES_TELEMETRY')).state.messages - before.telemetry;
    const now = epochMs();
    if (count > stored) {
      stored = count;
      lastProgressAt = now;
    }
    if (stored >= N) {
      doneAt = now;
      break;
    }
    if (now - lastProgressAt > STALL_MS) break;
    await sleep(20);
  }
  const ingestCpuAtDone = { self: cpuSecondsOf(ingest.child.pid), ...brokerCpu() };
  publisher = await publisherDone;
  ingestCpuAtDone.publisher = exitedChildrenCpu();
  // Condition changes are written after their reading is stored: let them finish before counting.
  let after = await state();
  for (let settled = 0; settled < 10; ) {
    await sleep(100);
    const now = await state();
    settled = now.events === after.events ? settled + 1 : 0;
    after = now;
  }
  const secs = doneAt === undefined ? undefined : (doneAt - publisher.t0) / 1000;
  const ingestRate = secs === undefined ? null : Math.round(stored / secs);
  if (doneAt === undefined) {
    console.log(`ingest stalled: ${stored} of ${N} readings stored after no progress for ${STALL_MS / 1000} s`);
    process.exitCode = 1;
  } else {
    console.log(`raw pipe ${raw.rate} readings/s; ingest ${ingestRate} readings/s stored in MES_TELEMETRY (ratio ${(ingestRate / raw.rate).toFixed(3)}), ${after.events - before.events} MachineStatusChanged appends on the way, ${after.deadLetters - before.deadLetters} dead letters`);
  }
  // CPU per reading (µs) is steadier than rates on a shared machine; the raw pipe's includes its publisher's.
  const perReading = (b, a, key) => { const s = spent(b[key], a[key]); return s === null ? null : Math.round((s * 1e6) / N); };
  console.log(`CPU µs per reading: raw pipe + publisher ${perReading(rawCpuBefore, rawCpuAfter, 'self')} (nats ${perReading(rawCpuBefore, rawCpuAfter, 'nats')}, mosquitto ${perReading(rawCpuBefore, rawCpuAfter, 'mqtt')}); ingest ${perReading(ingestCpuBefore, ingestCpuAtDone, 'self')} + publisher ${perReading(ingestCpuBefore, ingestCpuAtDone, 'publisher')} (nats ${perReading(ingestCpuBefore, ingestCpuAtDone, 'nats')}, mosquitto ${perReading(ingestCpuBefore, ingestCpuAtDone, 'mqtt')})`);
  const capped = raw.publisherRate !== undefined && raw.publisherRate < raw.rate * 1.1;
  const rows = [
    row({
      measure: `ingest alone: ${N} readings stored in the telemetry stream`,
      value: ingestRate,
      unit: 'readings/s',
      baseline: raw.rate,
      baselineName: 'raw pipe (MQTT -> JSON.parse -> JetStream)',
      target: '>= 0.9x',
      ...(capped ? { ratio: null, note: `the raw pipe's publisher (${raw.publisherRate}/s) capped the pipe: no ratio` } : {}),
    }),
  ];

  if (!args['no-sql'] && doneAt !== undefined) {
    const sqlitePath = join(dataDir, 'mes.sqlite');
    const projectionsProcess = startServiceProcess(root, {
      name: 'projections',
      entry: 'services/projections/dist/main.js',
      env: { NATS_URL: natsUrl, MES_CONFIG: join(root, 'bench/plants.bench.yaml'), SQL_URL: `sqlite:${sqlitePath}`, LOG_LEVEL: 'info', PLANTS: '', HTTP_PORT: '0', DATA_DIR: dataDir },
      ready: (msg) => msg === 'service started',
    });
    await projectionsProcess.started;
    const sql = new Database(sqlitePath, { readonly: true });
    const count = sql.prepare('SELECT COUNT(*) AS n FROM MESData');
    const rowsNow = () => count.get().n;
    const waitForRows = async (n, what) => {
      let seen = rowsNow();
      let progressAt = epochMs();
      while (seen < n) {
        await sleep(20);
        const now = rowsNow();
        if (now > seen) progressAt = epochMs();
        seen = now;
        if (epochMs() - progressAt > STALL_MS) throw new Error(`MESData stalled at ${seen} of ${n} rows (${what})`);
      }
      return epochMs();
    };
    await waitForRows(stored, 'catching up with the readings of phase 2');
    const second = await runNodeJson(rawPipe, ['--publish-only', '--n', String(N), '--mqtt', mqttUrl, '--qos', '1']);
    const rowsAt = await waitForRows(stored + N, 'the second batch');
    const sqlRate = Math.round(N / ((rowsAt - second.t0) / 1000));
    sql.close();
    await projectionsProcess.stop();
    console.log(`readings -> MESData rows (ingest and projections at once, SQLite): ${sqlRate} readings/s (ratio to the raw pipe ${(sqlRate / raw.rate).toFixed(3)})`);
    rows.push(
      row({
        measure: `readings -> MESData rows: ${N} readings, ingest + projections into SQLite`,
        value: sqlRate,
        unit: 'readings/s',
        baseline: raw.rate,
        baselineName: 'raw pipe',
        target: '>= 0.7x',
        ...(capped ? { ratio: null, note: `the raw pipe's publisher (${raw.publisherRate}/s) capped the pipe: no ratio` } : {}),
      }),
    );
  }
  await nc.drain();
  await ingest.stop();
  printResult('ingest', rows);
} finally {
  for (const broker of brokers ?? []) await broker.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
