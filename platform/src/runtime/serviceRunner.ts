// The composition root every service's main.ts uses: config, logging, NATS, provisioning, the
// event store, then the services themselves; a graceful stop on SIGINT / SIGTERM.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, type PlantsConfig } from '@mes/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { resolveSecrets } from '../config/developmentSecrets.js';
import { HealthRegistry, natsHealthCheck } from '../http/health.js';
import { ApiCredentials, DEFAULT_TOKEN_HOLDER } from '../http/apiCredentials.js';
import { createHttpServer } from '../http/httpServer.js';
import { loadPlantConfigFile } from '../config/plantConfigFile.js';
import { loadConfig, withoutCredentials, type Config } from '../config/env.js';
import type { EventStore } from '../eventStore/eventStore.js';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { createEventStoreDbClient, EventStoreDbEventStore } from '../eventStore/eventStoreDbEventStore.js';
import { startEventRelay } from '../eventStore/eventRelay.js';
import { connectNats, drainNats } from '../nats/connection.js';
import { provisionTopology } from '../nats/topology.js';
import { createLogger } from './logger.js';
import { registerJetStreamGauges } from '../metrics/jetStreamGauges.js';
import { createMetrics, type MesMetrics } from '../metrics/metrics.js';

/** What every service receives; only the runner (or a test) creates these clients. */
export interface ServiceDeps {
  config: Config;
  /** API_TOKEN and APPROVAL_SECRET, generated under DATA_DIR in development when unset. */
  secrets: { apiToken: string; approvalSecret: string };
  plants: PlantsConfig;
  logger: Logger;
  nc: NatsConnection;
  eventStore: EventStore;
  /** The process's HTTP server; services add routes before it starts listening. */
  http: FastifyInstance;
  /** Services register their dependencies here; GET /health runs every check. */
  health: HealthRegistry;
  /** The process's Prometheus metrics (GET /metrics): services observe what they produce. */
  metrics: MesMetrics;
  /** Services add lines for the person at the console (e.g. the development mailbox's path under the HTTP URL). */
  announce(line: string): void;
}

export interface RunningService {
  stop(): Promise<void>;
}

export type StartService = (deps: ServiceDeps) => Promise<RunningService>;

export interface Runtime {
  deps: ServiceDeps;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:3000. */
  httpUrl: string;
  /** Lines for a person at the console: URLs, and the development API token when one was generated. */
  banner: string[];
  /** Stops the services (last started first), then the event store and NATS. */
  stop(): Promise<void>;
}

/** Builds the shared dependencies and starts `services` on them. Throws on any start-up failure. */
export async function startRuntime(processName: string, services: Record<string, StartService>, env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const config = loadConfig(env);
  const logger = createLogger({ service: processName, level: config.logLevel });
  const plants = loadPlantConfigFile(config.plantConfigPath);
  const unknownPlants = (config.plants ?? []).filter((id) => !(id in plants.plants));
  if (unknownPlants.length > 0) {
    throw new Error(`PLANTS names ${unknownPlants.join(', ')}, not in the plant configuration ${config.plantConfigPath} (MES_CONFIG), which has ${Object.keys(plants.plants).join(', ')}`);
  }
  logger.info({ plantConfig: config.plantConfigPath, plants: Object.keys(plants.plants), serving: config.plants ?? 'all' }, 'plant configuration loaded');

  const secrets = resolveSecrets(config);
  if (secrets.generated.length > 0) {
    logger.warn({ file: secrets.file, generated: secrets.generated }, 'development secrets in use (set API_TOKEN and APPROVAL_SECRET in production)');
  }

  const nc = await connectNats({ url: config.natsUrl, name: `mes-${processName}`, logger });
  const health = new HealthRegistry();
  health.register('nats', natsHealthCheck(nc));
  const credentials = new ApiCredentials([{ name: DEFAULT_TOKEN_HOLDER, token: secrets.apiToken }, ...config.apiTokens]);
  const metrics = createMetrics();
  metrics.useLogger(logger.child({ component: 'metrics' }));
  registerJetStreamGauges(metrics, nc);
  const http = await createHttpServer({ logger: logger.child({ component: 'http' }), health, credentials, trustProxy: config.trustProxy, metrics });
  // Protected like /api (the platform protects /metrics by its path).
  http.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store').send(await metrics.registry.metrics()));
  const running: { name: string; service: RunningService }[] = [];
  let eventStore: EventStoreHandle | undefined;
  const stop = async () => {
    await http.close().catch((err: unknown) => logger.error({ err }, 'HTTP server did not close cleanly'));
    for (const { name, service } of running.reverse()) {
      await service.stop().catch((err: unknown) => logger.error({ err, service: name }, 'service did not stop cleanly'));
    }
    await eventStore?.close();
    await drainNats(nc);
    logger.info('stopped');
  };
  try {
    const report = await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: config.dedupeWindowMs });
    logger.info(report, 'JetStream topology provisioned');
    eventStore = await createEventStore(config, nc, logger);
    health.register('eventStore', async () => {
      await eventStore?.store.ping();
    });
    const announcements: string[] = [];
    const deps: ServiceDeps = {
      config,
      secrets: { apiToken: secrets.apiToken, approvalSecret: secrets.approvalSecret },
      plants,
      logger,
      nc,
      eventStore: eventStore.store,
      http,
      health,
      metrics,
      announce: (line) => void announcements.push(line),
    };
    for (const [name, start] of Object.entries(services)) {
      running.push({ name, service: await start({ ...deps, logger: logger.child({ service: name }) }) });
      logger.info({ service: name }, 'service started');
    }
    const address = await http.listen({ port: config.httpPort, host: config.httpHost });
    const httpUrl = address.replace('0.0.0.0', '127.0.0.1');
    logger.info({ url: httpUrl, health: `${httpUrl}/health` }, 'HTTP server listening');
    const banner = [`MES is running. HTTP: ${httpUrl}  (health: ${httpUrl}/health)`, ...announcements.map((line) => line.replaceAll('{httpUrl}', httpUrl))];
    if (secrets.generated.includes('API_TOKEN')) banner.push(`Development API token (kept in ${secrets.file}): ${secrets.apiToken}`);
    return { deps, httpUrl, banner, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface EventStoreHandle {
  store: EventStore;
  close(): Promise<void>;
}

async function createEventStore(config: Config, nc: NatsConnection, logger: Logger): Promise<EventStoreHandle> {
  if (config.eventStoreUrl === undefined) {
    logger.info({ stream: EVENTS_STREAM }, 'event store: JetStream');
    const store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX, logger });
    return { store, close: () => store.close() };
  }
  // EventStoreDB holds the log; a relay republishes it to JetStream, where the services follow it.
  const client = createEventStoreDbClient(config.eventStoreUrl);
  const store = new EventStoreDbEventStore({ client, logger });
  const relays = await Promise.all(
    (config.plants ?? [undefined]).map((plantId) =>
      startEventRelay({ source: store, nc, logger, name: plantId === undefined ? 'events' : `events-${plantId}`, ...(plantId === undefined ? {} : { plantId }) }),
    ),
  );
  logger.info({ eventStore: withoutCredentials(config.eventStoreUrl) }, 'event store: EventStoreDB, relayed to JetStream');
  return {
    store,
    async close() {
      await Promise.all(relays.map((relay) => relay.stop()));
      await store.close();
      await client.dispose();
    },
  };
}

/**
 * Runs services until SIGINT or SIGTERM, then stops them gracefully; a second signal exits at once.
 * A start-up failure prints one clear message and exits with status 1.
 */
export async function runServices(processName: string, services: Record<string, StartService>): Promise<void> {
  let runtime: Runtime;
  try {
    runtime = await startRuntime(processName, services);
  } catch (err) {
    process.stderr.write(`${processName}: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${runtime.banner.join('\n')}\n`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      runtime.deps.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    runtime.deps.logger.info({ signal }, 'stopping');
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        runtime.deps.logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
