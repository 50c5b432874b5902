// The technicians of the chaos runs: an order that got its resources is completed shortly after
// (POST /api/orders/{id}/complete on a running maintenance copy), which releases the resources to
// the next waiting order. Orders are found in the reporting table MaintenanceOrders.
import { CLUSTER_API_TOKEN, type ServiceCopy } from '@mes/platform/testing';
import type { SqlSink } from '@mes/platform';
import { LIVE_TABLES } from '@mes/projections';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CompleterStats {
  completed: number;
  /** Answers other than 200 that were not a copy being down (e.g. 409 already completed). */
  refused: Record<string, number>;
}

export interface OrderCompleter {
  readonly stats: CompleterStats;
  stop(): Promise<void>;
}

export function startOrderCompleter(sink: SqlSink, maintenanceCopies: () => ServiceCopy[]): OrderCompleter {
  const stats: CompleterStats = { completed: 0, refused: {} };
  const done = new Set<string>();
  let stopped = false;

  const complete = async (orderId: string) => {
    // Copies serving other plants answer 404 for an order they do not own; the next one may own it.
    for (const copy of maintenanceCopies().filter((c) => c.running())) {
      try {
        const response = await fetch(`${copy.httpUrl}/api/orders/${encodeURIComponent(orderId)}/complete`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CLUSTER_API_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ by: 'chaos-technician' }),
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        if (response.status === 200) {
          stats.completed++;
          done.add(orderId);
          return;
        }
        if (response.status === 404 || response.status >= 500) continue;
        stats.refused[response.status] = (stats.refused[response.status] ?? 0) + 1;
        done.add(orderId);
        return;
      } catch {
        // That copy went down mid-request: the next one, or the next round.
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      const rows = await sink.select(LIVE_TABLES.MaintenanceOrders, { where: { Status: 'ResourcesAllocated' } }).catch(() => []);
      for (const row of rows) {
        const orderId = String(row.OrderID);
        if (!done.has(orderId) && !stopped) await complete(orderId);
      }
      await sleep(500);
    }
  })();

  return {
    stats,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
