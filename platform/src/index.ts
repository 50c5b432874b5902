// The platform kit every service shares. Test-only helpers live in `@mes/platform/testing`.
export { handleCommand, TooManyConflictsError } from './application/commandHandler.js';
export { AggregateCache } from './application/aggregateCache.js';
export type { CachedAggregate } from './application/aggregateCache.js';
export type { CommandContext, CommandHandlerDeps, CommandResult, HandleCommandOptions } from './application/commandHandler.js';
export { ConfigError, EXAMPLE_PLANT_CONFIG_PATH, loadConfig, withoutCredentials } from './config/env.js';
export type { Config, TracingConfig } from './config/env.js';
export { loadPlantConfigFile, parsePlantConfigText, PlantConfigError } from './config/plantConfigFile.js';
export { PlantConfigVersions, plantConfigEntry, recordPlantConfigVersions } from './config/plantConfigVersions.js';
export type { PlantConfigRecording, RecordedPlantConfig, RecordPlantConfigOptions } from './config/plantConfigVersions.js';
export { derivedEventId, DomainError, domainEventDecoder, foldEvents, ForeignEventError, stateAfter, stateFrom, uuidV5 } from './domain/decider.js';
export type { Decider, DomainMessage, StoredMessage } from './domain/decider.js';
export { assertAppendable, EventStoreUnavailableError, MAX_EVENTS_PER_APPEND, parseRecordedEvent, WrongExpectedRevisionError } from './eventStore/eventStore.js';
export type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  GlobalPosition,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedDomainEvent,
  RecordedEvent,
  StreamRevision,
  SubscribeOptions,
  Subscription,
} from './eventStore/eventStore.js';
export { JetStreamEventStore, splitJetStreamPosition } from './eventStore/jetStreamEventStore.js';
export type { JetStreamEventStoreOptions } from './eventStore/jetStreamEventStore.js';
export { connectNats, drainNats, NatsUnreachableError } from './nats/connection.js';
export { JetStreamAckPublisher, JetStreamRefusedError, PublisherStoppedError } from './nats/jetStreamAckPublisher.js';
export type { AckPublisherOptions, PubAck, PublishOptions } from './nats/jetStreamAckPublisher.js';
export { PipelinedKv } from './nats/pipelinedKv.js';
export { OrderIndex } from './nats/orderIndex.js';
export type { NatsConnectOptions } from './nats/connection.js';
export { APPROVER_PINS_BUCKET, ensureDurableConsumer, ensureStream, eventsStreamSpec, provisionTopology, ReplicasUnavailableError, TOPOLOGY_BUCKETS, topologyStreams } from './nats/topology.js';
export type { ProvisionReport, StreamSpec, TopologyOptions } from './nats/topology.js';
export { createLogger, REDACTED_PATHS } from './runtime/logger.js';
export type { Logger } from './runtime/logger.js';
export { runServices, startRuntime } from './runtime/serviceRunner.js';
export { runUntilSignalled } from './runtime/processLifecycle.js';
export { forEachAtOnce } from './runtime/concurrency.js';
export { activeTraceContext, allWithActiveTraceContext, inSpan, traceContextFrom, TRACER_NAME, withActiveTraceContext } from './runtime/traceContext.js';
export type { InSpanOptions, TraceSpanKind } from './runtime/traceContext.js';
export { registerTracing, startTracing } from './runtime/tracing.js';
export type { RegisterTracingOptions, Tracing } from './runtime/tracing.js';
export type { ProcessLifecycleOptions, StartedProcess } from './runtime/processLifecycle.js';
export type { RunningService, Runtime, ServiceDeps, StartService } from './runtime/serviceRunner.js';
export { buildCommand, sendCommand, startCommandHandlers } from './messaging/commandBus.js';
export type { CommandHandlerOptions, CommandMetadata } from './messaging/commandBus.js';
export { retryDelayMs, startDurableWorker } from './messaging/durableWorker.js';
export type { DurableWorker, DurableWorkerOptions, WorkOutcome } from './messaging/durableWorker.js';
export { startEventConsumer } from './messaging/eventConsumer.js';
export type { EventConsumerOptions, EventDelivery } from './messaging/eventConsumer.js';
export { resolveSecrets } from './config/developmentSecrets.js';
export type { ResolvedSecrets } from './config/developmentSecrets.js';
export { HealthRegistry, natsHealthCheck } from './http/health.js';
export type { HealthCheck, HealthReport } from './http/health.js';
export { addAuthenticator, createHttpServer, isLoopbackAddress, isProtectedRoute, registeredRoutes } from './http/httpServer.js';
export type { Authenticator, HttpServerOptions, RegisteredRoute, TrustProxy } from './http/httpServer.js';
export { actorOfCaller, ApiCredentials, DEFAULT_TOKEN_HOLDER } from './http/apiCredentials.js';
export type { ApiCaller, ApiCredential } from './http/apiCredentials.js';
export { createEventStoreDbClient, EventStoreDbEventStore } from './eventStore/eventStoreDbEventStore.js';
export type { EventStoreDbEventStoreOptions } from './eventStore/eventStoreDbEventStore.js';
export { RELAY_CHECKPOINTS_BUCKET, startEventRelay } from './eventStore/eventRelay.js';
export { EventLogNotFoundError, openEventStore } from './eventStore/openEventStore.js';
export { canonicalJson, chainHash, checkLink, GENESIS_HASH } from './eventStore/hashChain.js';
export type { ChainBreak } from './eventStore/hashChain.js';
export { verifyChains, verifyReadStreams } from './eventStore/verifyChains.js';
export type { ChainVerification, VerifyChainsOptions } from './eventStore/verifyChains.js';
export type { EventStoreHandle, OpenEventStoreOptions } from './eventStore/openEventStore.js';
export type { EventRelay, EventRelayOptions } from './eventStore/eventRelay.js';
export { openSqlSink, parseSqlUrl } from './sql/openSqlSink.js';
export type { MssqlLocation, OpenSqlSinkOptions, SqlLocation, SqliteLocation } from './sql/openSqlSink.js';
export {
  decodePosition,
  encodePosition,
  MIGRATIONS_TABLE,
  POSITION_COLUMN,
  SqlSinkUnavailableError,
  SqlValueError,
  tablesAfterMigrations,
} from './sql/sqlSink.js';
export type {
  AppliedMigration,
  SqlAssignment,
  SqlColumn,
  SqlColumnType,
  SqlDialect,
  SqlIndex,
  SqlMigration,
  SqlOp,
  SqlPositionGuard,
  SqlRow,
  SqlSelectOptions,
  SqlSink,
  SqlTable,
  SqlValue,
  SqlWhenNull,
  SqlWriteOptions,
} from './sql/sqlSink.js';
export { countAfterSequence, createOrderedConsumer, deleteConsumerQuietly, deliveryCounter, DeliveryGapError, FetchAhead, lastMessageOf, readRange } from './nats/jetStreamLog.js';
export { escapeHtml } from './http/escapeHtml.js';
export { createMetrics, ScrapedGauge, secondsBetween } from './metrics/metrics.js';
export type { GaugeSample, GaugeSource, MesMetrics } from './metrics/metrics.js';
export { consumerPlant, registerJetStreamGauges } from './metrics/jetStreamGauges.js';
export { codeOfStatus, PROBLEM_CONTENT_TYPE, problemDetails, problemType, sendProblem } from './http/problemDetails.js';
export type { ProblemDetails } from './http/problemDetails.js';
