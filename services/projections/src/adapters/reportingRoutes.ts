// The read API over the reporting tables, which the web console uses too (all bearer- or
// session-protected by the platform, as everything under /api):
//   GET /api/orders?plant=&status=&machine=&limit=&offset=   newest first, paged
//   GET /api/orders/{orderId}                                 the row, its approval requests, its signatures
//   GET /api/machines?plant=                                  condition, last and recent readings, open order
//   GET /api/approvals/waiting?plant=                         who, since when, decide-by
//   GET /api/resources?plant=                                 who holds what, and the queue waiting for them
// Errors are problem details (RFC 9457).
import { IDENTIFIER_PATTERN } from '@mes/contracts';
import { sendProblem } from '@mes/platform';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApprovalRequestFacts, approvalsWaiting, listMachines, listOrders, orderDetail, ORDER_STATUSES, resourcesAndQueue, type ReportingReadDeps } from '../application/reportingQueries.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
/** Readings per machine in GET /api/machines (its small chart). */
export const RECENT_READINGS = 30;

type Query = Record<string, string | undefined>;

class InvalidQuery extends Error {}

function identifier(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (!IDENTIFIER_PATTERN.test(value)) throw new InvalidQuery(`${name} must be 1 to 64 characters of A-Z a-z 0-9 _ - (got ${JSON.stringify(value)})`);
  return value;
}

function wholeNumber(query: Query, name: string, min: number, max: number, fallback: number): number {
  const value = query[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) throw new InvalidQuery(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  return parsed;
}

function status(query: Query): string | undefined {
  const value = query.status;
  if (value === undefined || value === '') return undefined;
  if (!(ORDER_STATUSES as readonly string[]).includes(value)) throw new InvalidQuery(`status must be one of ${ORDER_STATUSES.join(', ')} (got ${JSON.stringify(value)})`);
  return value;
}

async function answer(reply: FastifyReply, produce: () => Promise<unknown>): Promise<FastifyReply> {
  try {
    return reply.header('cache-control', 'no-store').send(await produce());
  } catch (err) {
    if (err instanceof InvalidQuery) return sendProblem(reply, 400, 'INVALID_REQUEST', err.message);
    throw err;
  }
}

export function registerReportingRoutes(http: FastifyInstance, deps: ReportingReadDeps): void {
  const requestFacts = new ApprovalRequestFacts(deps.eventStore);
  http.get<{ Querystring: Query }>('/api/orders', async (request, reply) =>
    answer(reply, async () => {
      const filter = { plantId: identifier(request.query, 'plant'), status: status(request.query), machineId: identifier(request.query, 'machine') };
      const limit = wholeNumber(request.query, 'limit', 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
      const offset = wholeNumber(request.query, 'offset', 0, 1_000_000_000, 0);
      const definedFilter = Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined));
      const { orders, total } = await listOrders(deps, definedFilter, { limit, offset });
      return { orders, total, limit, offset };
    }),
  );

  http.get<{ Params: { orderId: string } }>('/api/orders/:orderId', async (request, reply) => {
    const { orderId } = request.params;
    const detail = IDENTIFIER_PATTERN.test(orderId) ? await orderDetail(deps, orderId) : undefined;
    if (detail === undefined) return sendProblem(reply, 404, 'ORDER_NOT_FOUND', `no maintenance order ${orderId} in the reporting tables`);
    return reply.header('cache-control', 'no-store').send(detail);
  });

  http.get<{ Querystring: Query }>('/api/machines', async (request, reply) =>
    answer(reply, async () => ({ machines: await listMachines(deps, identifier(request.query, 'plant'), RECENT_READINGS) })),
  );

  http.get<{ Querystring: Query }>('/api/approvals/waiting', async (request, reply) =>
    answer(reply, async () => ({ approvals: await approvalsWaiting({ sink: deps.sink, requestFacts }, identifier(request.query, 'plant')) })),
  );

  http.get<{ Querystring: Query }>('/api/resources', async (request, reply) => answer(reply, () => resourcesAndQueue(deps, identifier(request.query, 'plant'))));
}
