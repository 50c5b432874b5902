// The composition root every service's main.ts uses: config, logging, NATS, provisioning, the
// event store, then the services themselves; a graceful stop on SIGINT / SIGTERM.
import type { PlantsConfig } from '@mes/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ensurePrivateDataDir, resolveSecrets } from '../config/developmentSecrets.js';
import { HealthRegistry, natsHealthCheck } from '../http/health.js';
import { ApiCredentials, DEFAULT_TOKEN_HOLDER } from '../http/apiCredentials.js';
import { createHttpServer } from '../http/httpServer.js';
import { loadPlantConfigFile } from '../config/plantConfigFile.js';
import { recordPlantConfigVersions } from '../config/plantConfigVersions.js';
import { loadConfig, type Config } from '../config/env.js';
import type { EventStore } from '../eventStore/eventStore.js';
import { openEventStore, type EventStoreHandle } from '../eventStore/openEventStore.js';
import { connectNats, drainNats } from '../nats/connection.js';
import { provisionTopology } from '../nats/topology.js';
import { createLogger } from './logger.js';
import { runUntilSignalled } from './processLifecycle.js';
import { startTracing } from './tracing.js';
import { registerJetStreamGauges } from '../metrics/jetStreamGauges.js';
import { createMetrics, type MesMetrics } from '../metrics/metrics.js';

/** What every service receives; only the runner (or a test) creates these clients. */
export interface ServiceDeps {
  config: Config;
  /** API_TOKEN and APPROVAL_SECRET, generated under DATA_DIR in development when unset. */
  secrets: { apiToken: string; approvalSecret: string };
  plants: PlantsConfig;
  /** The plants this process serves: PLANTS, or every plant of the configuration. */
  servedPlants: readonly string[];
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

  if (ensurePrivateDataDir(config.dataDir)) logger.warn({ dataDir: config.dataDir }, 'DATA_DIR was readable by other users; narrowed to this user (0700)');
  const secrets = resolveSecrets(config);
  if (secrets.generated.length > 0) {
    logger.warn({ file: secrets.file, generated: secrets.generated }, 'development secrets in use (set API_TOKEN and APPROVAL_SECRET in production)');
  }

  const nc = await connectNats({ url: config.natsUrl, name: `mes-${processName}`, logger });
  const health = new HealthRegistry(logger.child({ component: 'health' }));
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
  // Before the services start, so each of their spans is recorded; flushed last on stop.
  const tracing = startTracing(config, processName, logger);
  const stop = async () => {
    await http.close().catch((err: unknown) => logger.error({ err }, 'HTTP server did not close cleanly'));
    for (const { name, service } of running.reverse()) {
      await service.stop().catch((err: unknown) => logger.error({ err, service: name }, 'service did not stop cleanly'));
    }
    await eventStore?.close();
    await drainNats(nc);
    await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'traces could not all be exported on stop'));
    logger.info('stopped');
  };
  try {
    const report = await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: config.dedupeWindowMs, replicas: config.natsReplicas });
    logger.info(report, 'JetStream topology provisioned');
    eventStore = await openEventStore({ config, nc, logger, relay: { health } });
    logger.info({ eventStore: eventStore.description }, 'event store opened');
    health.register('eventStore', async () => {
      await eventStore?.store.ping();
    });
    const servedPlants = config.plants ?? Object.keys(plants.plants);
    // Start-up with a changed file applies a new configuration version, recorded like a reload (CONTRACT §3).
    for (const recording of await recordPlantConfigVersions(eventStore.store, plants, {
      plantIds: servedPlants,
      actor: { kind: 'service', id: processName },
      source: resolve(config.plantConfigPath),
      via: `start-up of ${processName}`,
    })) {
      if (recording.recorded) logger.info({ plantId: recording.plantId, version: recording.version, changes: recording.changes.length }, 'plant configuration version recorded');
    }
    const announcements: string[] = [];
    const deps: ServiceDeps = {
      config,
      secrets: { apiToken: secrets.apiToken, approvalSecret: secrets.approvalSecret },
      plants,
      servedPlants,
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

/** Runs services until SIGINT or SIGTERM (see runUntilSignalled): what each service's main.ts does. */
export async function runServices(processName: string, services: Record<string, StartService>): Promise<void> {
  await runUntilSignalled(processName, async () => {
    const runtime = await startRuntime(processName, services);
    return { banner: runtime.banner, stop: () => runtime.stop() };
  });
}
