// Recording plant configuration versions against a real JetStream store: a changed configuration
// is one new version with what changed, an unchanged one none, many copies starting at once with
// the same file record it once, and the newest version reads back as the services use it.
import { plantConfigStream, type PlantConfigVersionRecorded } from '@mes/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { ensureStream, eventsStreamSpec } from '../nats/topology.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { parsePlantConfigText } from './plantConfigFile.js';
import { PlantConfigVersions, recordPlantConfigVersions } from './plantConfigVersions.js';

const yaml = (timeout: string, approvers = ['alice']) => `plants:
  P1:
    approvers:
${approvers.map((name) => `      - { email: ${name}@plant1.example, name: ${name} }`).join('\n')}
    approvalTimeout: ${timeout}
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
  P2:
    approvers:
      - { email: zoe@plant2.example, name: Zoe }
    approvalTimeout: PT1H
    resources: []
    rules:
      - { when: { qualityTrend: Declining }, action: maintenance, reason: "Quality declining" }
`;
const options = (id: string) => ({ actor: { kind: 'service' as const, id }, source: '/etc/mes/plants.yaml', via: `start-up of ${id}` });

let server: NatsServerHandle;
let nc: NatsConnection;
let store: JetStreamEventStore;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureStream(await jetstreamManager(nc), eventsStreamSpec('CONFIGS', 'cfg'));
  store = new JetStreamEventStore({ nc, stream: 'CONFIGS', subjectPrefix: 'cfg' });
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

const versionsOf = async (plantId: string) => (await store.readStream(plantConfigStream(plantId))).events.map((e) => ({ actor: e.actor, ...(e.data as PlantConfigVersionRecorded['data']) }));

describe('recording plant configuration versions', () => {
  it('records a version once, however many copies start at once with the same file', async () => {
    const plants = parsePlantConfigText(yaml('PT30M'), 'plants.yaml');
    const results = await Promise.all(['ingest', 'workflow', 'approvals', 'resources'].map((id) => recordPlantConfigVersions(store, plants, { ...options(id), plantIds: ['P1'] })));
    expect(results.flat().filter((result) => result.recorded)).toHaveLength(1);
    expect(results.flat().map((result) => result.version)).toEqual([1, 1, 1, 1]);
    const [first, ...more] = await versionsOf('P1');
    expect(more).toEqual([]);
    expect(first).toMatchObject({ plantId: 'P1', version: 1, source: '/etc/mes/plants.yaml', config: { approvalTimeout: 'PT30M', approvers: [{ email: 'alice@plant1.example', name: 'alice' }] } });
    expect(first!.config).not.toHaveProperty('approvalTimeoutMs');
    // Only the plants asked for.
    expect(await versionsOf('P2')).toEqual([]);
  });

  it('records a changed plant as the next version with what changed, and nothing for one unchanged', async () => {
    const changed = parsePlantConfigText(yaml('PT15M', ['alice', 'bob']), 'plants.yaml');
    const results = await recordPlantConfigVersions(store, changed, options('mes'));
    expect(results).toEqual([
      { plantId: 'P1', version: 2, recorded: true, changes: [{ path: 'approvers.1', after: { email: 'bob@plant1.example', name: 'bob' } }, { path: 'approvalTimeout', before: 'PT30M', after: 'PT15M' }] },
      { plantId: 'P2', version: 1, recorded: true, changes: expect.arrayContaining([{ path: 'approvalTimeout', after: 'PT1H' }]) },
    ]);
    expect(await recordPlantConfigVersions(store, changed, options('mes'))).toEqual([
      { plantId: 'P1', version: 2, recorded: false, changes: [] },
      { plantId: 'P2', version: 1, recorded: false, changes: [] },
    ]);
    expect((await versionsOf('P1')).map((v) => [v.version, v.actor.id, v.via])).toEqual([[1, expect.any(String), expect.stringMatching(/^start-up of /)], [2, 'mes', 'start-up of mes']]);
  });

  it('reads the newest version back as the services use it, and nothing for a plant without one', async () => {
    const versions = new PlantConfigVersions(store);
    expect(await versions.newest('P1')).toMatchObject({ plantId: 'P1', version: 2, config: { approvalTimeoutMs: 15 * 60_000, approvers: [{ email: 'alice@plant1.example' }, { email: 'bob@plant1.example' }] } });
    await recordPlantConfigVersions(store, parsePlantConfigText(yaml('PT5M'), 'plants.yaml'), { ...options('mes'), plantIds: ['P1'] });
    expect(await versions.newest('P1')).toMatchObject({ version: 3, config: { approvalTimeoutMs: 5 * 60_000, approvers: [{ email: 'alice@plant1.example' }] } });
    expect(await versions.newest('P3')).toBeUndefined();
  });
});
