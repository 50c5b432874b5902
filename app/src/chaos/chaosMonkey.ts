// What goes wrong during a chaos run: every few seconds a random service copy is killed (SIGKILL)
// and started again after a moment, as a process manager would; at set points one NATS node is
// killed and brought back (the same node each time), and Mosquitto is restarted. One thing at a
// time per kind.
import type { ServiceCluster, ServiceCopy } from '@mes/platform/testing';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChaosPlan {
  /** Copies killed, one every `killEveryMs`. */
  kills: number;
  killEveryMs: number;
  /** How long a killed copy stays down before it is started again. */
  downMs: number;
  /** NATS node outages: when (ms after the start) and for how long the node stays down. */
  natsOutages: { atMs: number; downMs: number }[];
  /** Mosquitto restarts (clean: its sessions are saved and restored), ms after the start. */
  brokerRestartsAtMs: number[];
}

export interface ChaosLog {
  kills: { at: number; copy: string }[];
  natsRestarts: { at: number; node: string; downMs: number }[];
  brokerRestarts: { at: number }[];
  /** A copy that could not start again at once (e.g. during a NATS election), and why. */
  startRetries: { copy: string; error: string }[];
}

export interface ChaosMonkey {
  readonly log: ChaosLog;
  /** Resolves when every planned action is done and every killed copy runs again. */
  done(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `copy` again, retrying like a process manager while it fails to start. */
export async function restartCopy(copy: ServiceCopy, log: ChaosLog, shouldStop: () => boolean): Promise<void> {
  for (let attempt = 1; !shouldStop(); attempt++) {
    try {
      await copy.start();
      return;
    } catch (err) {
      log.startRetries.push({ copy: copy.name, error: (err as Error).message.split('\n')[0]! });
      if (attempt >= 10) throw err;
      await sleep(1_000);
    }
  }
}

export function startChaosMonkey(cluster: ServiceCluster, plan: ChaosPlan, random: () => number = Math.random): ChaosMonkey {
  const log: ChaosLog = { kills: [], natsRestarts: [], brokerRestarts: [], startRetries: [] };
  const startedAt = Date.now();
  let stopped = false;
  const restarts = new Set<Promise<void>>();
  const since = () => Date.now() - startedAt;
  const until = async (atMs: number) => {
    while (!stopped && since() < atMs) await sleep(Math.min(250, atMs - since()));
  };

  const killing = (async () => {
    for (let k = 1; k <= plan.kills && !stopped; k++) {
      await until(k * plan.killEveryMs);
      const candidates = cluster.copies.filter((copy) => copy.running());
      const victim = candidates[Math.floor(random() * candidates.length)];
      if (victim === undefined || stopped) continue;
      await victim.kill();
      log.kills.push({ at: since(), copy: victim.name });
      const restart: Promise<void> = sleep(plan.downMs)
        .then(() => restartCopy(victim, log, () => stopped))
        .finally(() => restarts.delete(restart));
      restarts.add(restart);
    }
  })();

  const natsNodes = (async () => {
    // One node, lost again and again: the cluster must take it back each time.
    const node = cluster.nats.nodes[Math.floor(random() * cluster.nats.nodes.length)]!;
    for (const outage of plan.natsOutages) {
      await until(outage.atMs);
      if (stopped) return;
      await node.kill();
      log.natsRestarts.push({ at: since(), node: node.name, downMs: outage.downMs });
      await sleep(outage.downMs);
      await node.start();
      // The node catches up before anything else may go down.
      await cluster.nats.waitForReplicasCurrent(120_000);
    }
  })();

  const broker = (async () => {
    for (const atMs of plan.brokerRestartsAtMs) {
      await until(atMs);
      if (stopped) return;
      await cluster.mosquitto.restart();
      log.brokerRestarts.push({ at: since() });
    }
  })();

  return {
    log,
    async done() {
      await Promise.all([killing, natsNodes, broker]);
      while (restarts.size > 0) await Promise.all(restarts);
    },
    async stop() {
      stopped = true;
      await Promise.allSettled([killing, natsNodes, broker, ...restarts]);
    },
  };
}
