// `npm run fuzz [-- --count 100000] [--seed N] [--ingest-node-options=--max-old-space-size=96]`: the telemetry fuzz run against an isolated
// nats-server and Mosquitto (started here, on free ports), with its figures; exit 1 when a promise
// broke (a message neither stored nor dead-lettered, ingest stopped, memory unbounded).
import { startMosquitto, startNatsServer } from '@mes/platform/testing';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatFuzzReport, FUZZ_LIMITS, fuzzViolations, runIngestFuzz } from './ingestFuzz.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'ingest-node-options': { type: 'string' } } });
const count = Number(values.count);
const seed = values.seed === undefined ? randomInt(0, 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(seed)) {
  process.stderr.write(`fuzz: --count takes a whole number from 1 and --seed a whole number (got ${values.count}, ${values.seed})\n`);
  process.exit(2);
}

const [nats, mosquitto] = await Promise.all([startNatsServer(), startMosquitto({ maxQueuedMessages: 0 })]);
const workDir = await mkdtemp(join(tmpdir(), 'mes-fuzz-'));
let exitCode = 1;
try {
  process.stdout.write(`fuzz: ${count.toLocaleString('en-US')} messages, seed ${seed}, nats-server ${nats.url}, Mosquitto ${mosquitto.url}\n`);
  const report = await runIngestFuzz({ count, seed, natsUrl: nats.url, mqttUrl: mosquitto.url, workDir,
    print: (line) => process.stdout.write(`${line}\n`),
    ...(values['ingest-node-options'] === undefined ? {} : { ingestEnv: { NODE_OPTIONS: values['ingest-node-options'] } }),
  });
  process.stdout.write(`${formatFuzzReport(report)}\n`);
  const problems = fuzzViolations(report, FUZZ_LIMITS);
  for (const problem of problems) process.stdout.write(`fuzz: FAILED: ${problem}\n`);
  if (problems.length === 0) process.stdout.write('fuzz: passed\n');
  exitCode = problems.length === 0 ? 0 : 1;
} finally {
  await Promise.all([nats.dispose(), mosquitto.dispose()]);
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
