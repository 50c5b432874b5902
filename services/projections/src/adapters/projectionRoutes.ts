// GET /api/orders/{orderId}/audit (CONTRACT §5; `?format=csv|jsonl|html` for auditors' files, JSON
// by default) and GET /api/projections/status (how far each source is applied, where its log ends,
// and how many messages are still to apply). Both are bearer-protected by the platform's /api hook.
import { TELEMETRY_STREAM } from '@mes/contracts';
import { countAfterSequence, lastMessageOf, sendProblem, type EventStore, type ServiceDeps, type SqlSink } from '@mes/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import { auditOrderWithChain, AuditSubjectNotFoundError, type ChainVerifier, type OrderIndex } from '../application/audit.js';
import { auditFormatProblem, exportOrderAudit, isAuditFormat } from './auditExport.js';
import type { ProjectionSource, SourceStatus } from '../application/projectionSources.js';
import { telemetryFilter } from './telemetryFollower.js';

export interface SourceReport {
  source: string;
  kind: SourceStatus['kind'];
  plantId: string | null;
  /** Last position applied; null before the first. */
  checkpoint: string | null;
  /** Position of the last item in the log; null when the log is empty or (EventStoreDB) not known. */
  end: string | null;
  /** Messages in the log after the checkpoint; null when not known. */
  behind: number | null;
  upToDate: boolean | null;
  applied: number;
  skipped: number;
  batches: number;
  lastCommittedAt: string | null;
  failingSince: string | null;
  /** Since when a rebuild holds this source's writes while it swaps the tables in. */
  pausedSince: string | null;
  lastError: string | null;
}

export interface StatusDeps {
  nc: ServiceDeps['nc'];
  sink: SqlSink;
  sources: readonly ProjectionSource[];
  eventStore: EventStore;
}

export async function projectionsStatus(deps: StatusDeps): Promise<{ sql: { location: string; dialect: string; reachable: boolean; error?: string }; sources: SourceReport[] }> {
  let reachable = true;
  let error: string | undefined;
  await deps.sink.ping().catch((err: unknown) => {
    reachable = false;
    error = (err as Error).message;
  });
  const jsm = await jetstreamManager(deps.nc);
  const sources = await Promise.all(
    deps.sources.map(async (source): Promise<SourceReport> => {
      const status = source.status();
      let end: bigint | undefined;
      let behind: number | null = null;
      let known = true;
      try {
        if (status.kind === 'events') {
          const log = status.plantId === undefined ? {} : { plantId: status.plantId };
          end = await deps.eventStore.headPosition(log);
          behind = (await deps.eventStore.countAfter(status.checkpoint, log)) ?? null;
        } else {
          const filter = telemetryFilter(status.plantId);
          const last = await lastMessageOf(deps.nc, jsm, TELEMETRY_STREAM, filter);
          end = last ? BigInt(last.seq) : undefined;
          behind = await countAfterSequence(jsm, TELEMETRY_STREAM, filter, status.checkpoint === undefined ? 0 : Number(status.checkpoint));
        }
      } catch {
        known = false;
      }
      return {
        source: status.source,
        kind: status.kind,
        plantId: status.plantId ?? null,
        checkpoint: status.checkpoint?.toString() ?? null,
        end: end?.toString() ?? null,
        behind: known ? behind : null,
        upToDate: known ? (end === undefined ? true : status.checkpoint !== undefined && status.checkpoint >= end) : null,
        applied: status.stats.applied,
        skipped: status.stats.skipped,
        batches: status.stats.batches,
        lastCommittedAt: status.stats.lastCommittedAt,
        failingSince: status.stats.failingSince,
        pausedSince: status.stats.pausedSince,
        lastError: status.stats.lastError,
      };
    }),
  );
  return { sql: { location: deps.sink.location, dialect: deps.sink.dialect, reachable, ...(error ? { error } : {}) }, sources };
}

export function registerProjectionRoutes(deps: Pick<ServiceDeps, 'http'> & StatusDeps & { orderIndex: OrderIndex; verifyChains?: ChainVerifier }): void {
  deps.http.get<{ Params: { orderId: string }; Querystring: { format?: unknown } }>('/api/orders/:orderId/audit', async (request, reply) => {
    const format = request.query.format ?? 'json';
    if (!isAuditFormat(format)) return sendProblem(reply, 400, 'INVALID_REQUEST', auditFormatProblem(format));
    const auditDeps = { eventStore: deps.eventStore, orderIndex: deps.orderIndex, ...(deps.verifyChains ? { verifyChains: deps.verifyChains } : {}) };
    try {
      if (format === 'json') return reply.send(await auditOrderWithChain(auditDeps, request.params.orderId));
      const file = await exportOrderAudit(auditDeps, request.params.orderId, format, { exportedBy: request.apiCaller?.name ?? 'unknown caller' });
      reply.header('content-type', file.contentType);
      reply.header('content-disposition', `${format === 'html' ? 'inline' : 'attachment'}; filename="${file.fileName}"`);
      // The record is a document to read and print: nothing in it may run, whatever a comment held.
      if (format === 'html') reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      return reply.send(file.body);
    } catch (err) {
      if (err instanceof AuditSubjectNotFoundError) return sendProblem(reply, 404, err.code, err.message);
      throw err;
    }
  });
  deps.http.get('/api/projections/status', async (_request, reply) => reply.send(await projectionsStatus(deps)));
}
