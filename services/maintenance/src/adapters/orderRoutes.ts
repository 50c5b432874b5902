// POST /api/orders/{orderId}/complete and /cancel (CONTRACT §5): decided on the order's stream
// right away, so the caller learns the outcome; the workflow then releases the resources.
// Protected by the platform (every /api route needs a credential); the actor recorded is the
// authenticated caller, never a name the request body claims.
import { streamName } from '@mes/contracts';
import { actorOfCaller, handleCommand, sendProblem, type AggregateCache, type OrderIndex, type ServiceDeps } from '@mes/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { maintenanceOrderDecider, orderStatus, type OrderCommand, type OrderState } from '../domain/maintenanceOrder.js';

interface OrderActionBody {
  reason?: unknown;
  /** Who the caller says did or asked for it: recorded as stated, not as the actor. */
  by?: unknown;
}

function statedByOf(body: OrderActionBody | undefined): { statedBy?: string } | string {
  if (body?.by === undefined) return {};
  if (typeof body.by !== 'string' || body.by.trim() === '' || body.by.length > 256) return '"by" must be a non-empty string of at most 256 characters (an email or a name)';
  return { statedBy: body.by.trim() };
}

export function registerOrderRoutes(deps: Pick<ServiceDeps, 'http' | 'eventStore' | 'logger'> & { orderIndex: OrderIndex; orders: AggregateCache<OrderState> }): void {
  const act = (action: 'complete' | 'cancel') =>
    async (request: FastifyRequest<{ Params: { orderId: string } }>, reply: FastifyReply) => {
      const { orderId } = request.params;
      const caller = request.apiCaller;
      // The platform refuses unauthenticated calls before this handler; a route outside /api would not be.
      if (caller === undefined) throw new Error(`${request.routeOptions.url} ran without an authenticated caller`);
      const actor = actorOfCaller(caller);
      const body = (typeof request.body === 'object' && request.body !== null ? request.body : undefined) as OrderActionBody | undefined;
      const stated = statedByOf(body);
      if (typeof stated === 'string') return sendProblem(reply, 400, 'INVALID_REQUEST', stated);
      // Cancelling needs a reason; completing takes one (what was done) when given.
      let reason: string | undefined;
      if (action === 'cancel' || body?.reason !== undefined) {
        if (typeof body?.reason !== 'string' || body.reason.trim() === '' || body.reason.length > 400) {
          return sendProblem(reply, 400, 'INVALID_REQUEST', `send a JSON body { "reason": "..." } with a reason of 1 to 400 characters${action === 'complete' ? ', or none' : ''}`);
        }
        reason = body.reason.trim();
      }
      const order = await deps.orderIndex.find(orderId);
      if (!order) return sendProblem(reply, 404, 'ORDER_NOT_FOUND', `no maintenance order ${orderId}`);

      const commandId = randomUUID();
      const issuedAt = new Date().toISOString();
      const command: OrderCommand =
        action === 'complete'
          ? { type: 'CompleteMaintenanceOrder', orderId, ...(reason === undefined ? {} : { reason }), ...stated, issuedAt, actor }
          : { type: 'CancelMaintenanceOrder', orderId, reason: reason!, ...stated, issuedAt, actor };
      // A refusal (DomainError: the order has ended) becomes a 409 problem in the HTTP server.
      const result = await handleCommand(
        { store: deps.eventStore, now: () => new Date(issuedAt), eventId: (index) => `${commandId}/${index}` },
        maintenanceOrderDecider,
        streamName(order.plantId, 'order', orderId),
        command,
        { correlationId: order.workflowId, causationId: null, actor },
        { cache: deps.orders },
      );
      deps.logger.info({ orderId, action, caller: caller.name, changed: result.events.length > 0 }, 'order action from the API');
      return reply.code(200).send({ orderId, status: orderStatus(result.state), changed: result.events.length > 0 });
    };

  deps.http.post<{ Params: { orderId: string } }>('/api/orders/:orderId/complete', act('complete'));
  deps.http.post<{ Params: { orderId: string } }>('/api/orders/:orderId/cancel', act('cancel'));
}
