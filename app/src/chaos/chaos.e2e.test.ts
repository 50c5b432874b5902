// A small chaos run in every `npm test`: two copies of every service as processes on a three-node
// NATS cluster with NATS_REPLICAS=3, about 100 incidents while three copies are SIGKILLed and one
// NATS node is lost for a while (then comes back). Every check of CONTRACT §7 must hold; losing one
// node of three loses nothing acknowledged. The services run from dist: `npm test` builds first.
import { describe, expect, it } from 'vitest';
import { runChaos } from './runChaos.js';

describe('a chaos run on a three-node NATS cluster with two copies of every service', () => {
  it('keeps every promise of CONTRACT §7 while copies are killed and a NATS node is lost', async () => {
    const report = await runChaos({
      incidents: 100,
      rate: 5,
      copies: 2,
      natsReplicas: 3,
      plan: {
        kills: 3,
        killEveryMs: 5_000,
        downMs: 1_500,
        // Lost for 8 s in the middle of the incidents: every stream and consumer elects new leaders.
        natsOutages: [{ atMs: 9_000, downMs: 8_000 }],
        brokerRestartsAtMs: [],
      },
      settleTimeoutMs: 60_000,
    });
    process.stdout.write(`${report.table}\n`);
    if (report.dir !== undefined) process.stdout.write(`the failed run's logs, NATS stores and SQLite file are kept in ${report.dir}\n`);
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
    expect(report.figures).toMatchObject({ incidents: 100, kills: 3, natsRestarts: 1, readingsAcknowledged: 200, readingsInMesData: 200, orders: 100 });
  }, 170_000);
});
