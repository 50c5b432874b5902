// The telemetry fuzz run with 10,000 messages (npm run fuzz sends 100,000): ingest in its own
// process against an isolated nats-server and Mosquitto; every message the broker accepted for
// ingest is stored or dead-lettered, ingest keeps running and takes a valid reading at the end, its
// memory stays bounded, and one GET /api/dead-letters?limit=10000 answers within its byte bound.
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from '@mes/platform/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFuzzReport, FUZZ_LIMITS, fuzzViolations, runIngestFuzz } from './ingestFuzz.js';

describe('ingest under 10,000 fuzzed MQTT messages', () => {
  let nats: NatsServerHandle;
  let mosquitto: MosquittoHandle;
  let workDir: string;

  beforeAll(async () => {
    // No cap on the broker's queue for ingest: a dropped message would be the broker's loss, not ingest's.
    [nats, mosquitto] = await Promise.all([startNatsServer(), startMosquitto({ maxQueuedMessages: 0 })]);
    workDir = await mkdtemp(join(tmpdir(), 'mes-fuzz-test-'));
  });
  afterAll(async () => {
    await Promise.all([nats?.dispose(), mosquitto?.dispose()]);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('stores or dead-letters every message the broker accepted, and stays up and bounded', async () => {
    const report = await runIngestFuzz({ count: 10_000, seed: 20261125, natsUrl: nats.url, mqttUrl: mosquitto.url, workDir });
    console.info(formatFuzzReport(report));
    expect(fuzzViolations(report, FUZZ_LIMITS)).toEqual([]);
    // The run exercised what it is for: many of each outcome, and refusals counted apart.
    expect(report.expected).toBeGreaterThan(8_000);
    expect(report.stored).toBeGreaterThan(1_000);
    expect(report.deadLettered).toBeGreaterThan(5_000);
    expect(report.refusedByBroker).toBeGreaterThan(0);
    expect(report.notRouted).toBeGreaterThan(0);
    // More dead letters than one response holds: the answer says so and stays within its bytes.
    expect(report.deadLetterRead).toMatchObject({ status: 200, truncated: true });
    expect(report.deadLetterRead.count).toBeLessThan(report.deadLettered);
  }, 180_000);
});
