// The claims of open workflows in KV: one per machine, listed at start-up in one pass.
import { provisionTopology } from '@mes/platform';
import { startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenWorkflowClaims, type OpenWorkflow } from './openWorkflowClaims.js';

let nats: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

async function listed(claims: OpenWorkflowClaims, plants: string[]): Promise<Omit<OpenWorkflow, 'claimedAt'>[]> {
  const open = await claims.listOpen(new Set(plants));
  return open
    .map(({ claimedAt, ...rest }) => {
      // The claim's time is the server's, when it was stored: a moment of this test.
      expect(Math.abs(Date.parse(claimedAt) - Date.now())).toBeLessThan(60_000);
      return rest;
    })
    .sort((a, b) => `${a.plantId}.${a.machineId}`.localeCompare(`${b.plantId}.${b.machineId}`));
}

describe('open workflow claims', () => {
  it('lists nothing while no workflow is open, then each open one of the plants asked for once, with its latest holder', async () => {
    const claims = await OpenWorkflowClaims.open(nc);
    expect(await listed(claims, ['P1', 'P2'])).toEqual([]);

    expect(await claims.claim('P1', 'M-1', 'WF_a')).toBe(true);
    expect(await claims.claim('P1', 'M-1', 'WF_other')).toBe(false);
    expect(await claims.claim('P1', 'M-2', 'WF_b')).toBe(true);
    expect(await claims.claim('P1', 'M-3', 'WF_c')).toBe(true);
    expect(await claims.claim('P2', 'M-1', 'WF_d')).toBe(true);
    // M-2's workflow ends and a new one opens; M-3's ends for good.
    expect(await claims.release('P1', 'M-2', 'WF_b')).toBe(true);
    expect(await claims.claim('P1', 'M-2', 'WF_e')).toBe(true);
    expect(await claims.release('P1', 'M-3', 'WF_c')).toBe(true);

    expect(await listed(claims, ['P1'])).toEqual([
      { plantId: 'P1', machineId: 'M-1', workflowId: 'WF_a' },
      { plantId: 'P1', machineId: 'M-2', workflowId: 'WF_e' },
    ]);
    expect(await listed(claims, ['P1', 'P2'])).toEqual([
      { plantId: 'P1', machineId: 'M-1', workflowId: 'WF_a' },
      { plantId: 'P1', machineId: 'M-2', workflowId: 'WF_e' },
      { plantId: 'P2', machineId: 'M-1', workflowId: 'WF_d' },
    ]);
  });

  it('lists thousands of claims in one pass, each once', async () => {
    const claims = await OpenWorkflowClaims.open(nc);
    await Promise.all(Array.from({ length: 3000 }, (_, i) => claims.claim('P9', `M-${i}`, `WF_${i}`)));
    const open = await listed(claims, ['P9']);
    expect(open).toHaveLength(3000);
    expect(new Set(open.map((o) => o.workflowId)).size).toBe(3000);
  });
});
