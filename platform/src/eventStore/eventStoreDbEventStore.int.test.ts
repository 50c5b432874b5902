// The event store contract against a real EventStoreDB in a container (testcontainers). Without a
// container runtime the suite is reported as skipped, with the reason: it is never faked.
import { jsonEvent, type EventStoreDBClient } from '@eventstore/db-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { GenericContainer, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { describe, it, vi } from 'vitest';
import { describeEventStoreContract } from '../testing/eventStoreContract.js';
import { EventStoreDbEventStore, createEventStoreDbClient } from './eventStoreDbEventStore.js';

const IMAGE = 'eventstore/eventstore:24.10';
const PORT = 2113;

/** Why no container can be started here, or undefined when a Docker/Podman engine answers. */
async function missingContainerRuntime(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function startEventStoreDb(): Promise<StartedTestContainer> {
  return new GenericContainer(IMAGE)
    .withEnvironment({
      EVENTSTORE_INSECURE: 'true',
      EVENTSTORE_RUN_PROJECTIONS: 'None',
      EVENTSTORE_MEM_DB: 'true',
      EVENTSTORE_CLUSTER_SIZE: '1',
    })
    .withExposedPorts(PORT)
    .withWaitStrategy(Wait.forHttp('/health/live', PORT).forStatusCodeMatching((status) => status >= 200 && status < 300))
    .withStartupTimeout(180_000)
    .start();
}

/** Waits until the node accepts writes (it answers health checks a moment before it leads). */
async function waitUntilWritable(client: EventStoreDBClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      // Not a `{plantId}.{category}.{id}` name, so the store under test passes over it.
      await client.appendToStream('readiness-probe', jsonEvent({ type: 'Probe', data: {} }));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`EventStoreDB in the container never accepted a write: ${(err as Error).message}`, { cause: err });
      await sleep(500);
    }
  }
}

const missing = await missingContainerRuntime();

if (missing !== undefined) {
  console.warn(`EventStoreDB contract suite skipped: no container runtime (Docker/Podman) found: ${missing}`);
  describe.skip(`event store contract: EventStoreDB (skipped: no container runtime: ${missing})`, () => {
    it('runs the event store contract against EventStoreDB in a container', () => undefined);
  });
} else {
  // Pulling the image on a fresh machine takes longer than the int project's hook timeout.
  vi.setConfig({ hookTimeout: 300_000 });

  describeEventStoreContract('EventStoreDB', async () => {
    const container = await startEventStoreDb();
    const url = `esdb://${container.getHost()}:${container.getMappedPort(PORT)}?tls=false`;
    const clients = [createEventStoreDbClient(url), createEventStoreDbClient(url)] as const;
    try {
      await waitUntilWritable(clients[0]);
    } catch (err) {
      await Promise.all(clients.map((c) => c.dispose()));
      await container.stop();
      throw err;
    }
    const store = new EventStoreDbEventStore({ client: clients[0] });
    const otherStore = new EventStoreDbEventStore({ client: clients[1] });
    return {
      store,
      otherStore,
      async dispose() {
        await store.close();
        await otherStore.close();
        await Promise.all(clients.map((c) => c.dispose()));
        await container.stop();
      },
    };
  });
}
