// POST /api/orders/{orderId}/complete and /cancel (CONTRACT §5): decided on the order's stream
// right away, so the caller learns the outcome; the workflow then releases the resources.
// Bearer-protected by the platform's /api hook.
import { streamName, type Actor } from '@mes/contracts';
import { DomainError, handleCommand, type ServiceDeps } from '@mes/platform';
import { randomUUID } from 'node:crypto';
import { maintenanceOrderDecider, orderStatus, type OrderCommand } from '../domain/maintenanceOrder.js';
import { findOrder } from '../application/startMaintenance.js';

interface OrderActionBody {
  reason?: unknown;
  /** Who asks, for the audit trail (an email or a name); default: the API. */
  by?: unknown;
}

function actorOf(body: OrderActionBody | undefined): Actor | string {
  if (body?.by === undefined) return { kind: 'service', id: 'api' };
  if (typeof body.by !== 'string' || body.by.trim() === '' || body.by.length > 256) return '"by" must be a non-empty string of at most 256 characters (an email or a name)';
  return { kind: 'person', id: body.by.trim() };
}

export function registerOrderRoutes(deps: Pick<ServiceDeps, 'http' | 'nc' | 'eventStore' | 'logger'>): void {
  const act = (action: 'complete' | 'cancel') =>
    async (request: { params: { orderId: string }; body: unknown }, reply: { code(status: number): { send(body: unknown): unknown } }) => {
      const { orderId } = request.params;
      const body = (typeof request.body === 'object' && request.body !== null ? request.body : undefined) as OrderActionBody | undefined;
      const actor = actorOf(body);
      if (typeof actor === 'string') return reply.code(400).send({ error: 'bad_request', message: actor });
      let reason: string | undefined;
      if (action === 'cancel') {
        if (typeof body?.reason !== 'string' || body.reason.trim() === '' || body.reason.length > 400) {
          return reply.code(400).send({ error: 'bad_request', message: 'send a JSON body { "reason": "..." } with a reason of 1 to 400 characters' });
        }
        reason = body.reason.trim();
      }
      const order = await findOrder(deps, orderId);
      if (!order) return reply.code(404).send({ error: 'order_not_found', message: `no maintenance order ${orderId}` });

      const commandId = randomUUID();
      const issuedAt = new Date().toISOString();
      const command: OrderCommand =
        action === 'complete'
          ? { type: 'CompleteMaintenanceOrder', orderId, issuedAt, actor }
          : { type: 'CancelMaintenanceOrder', orderId, reason: reason!, issuedAt, actor };
      try {
        const result = await handleCommand(
          { store: deps.eventStore, now: () => new Date(issuedAt), eventId: (index) => `${commandId}/${index}` },
          maintenanceOrderDecider,
          streamName(order.plantId, 'order', orderId),
          command,
          { correlationId: order.workflowId, causationId: null, actor },
        );
        deps.logger.info({ orderId, action, changed: result.events.length > 0 }, 'order action from the API');
        return reply.code(200).send({ orderId, status: orderStatus(result.state), changed: result.events.length > 0 });
      } catch (err) {
        if (err instanceof DomainError) return reply.code(409).send({ error: err.code, message: err.message });
        throw err;
      }
    };

  deps.http.post<{ Params: { orderId: string } }>('/api/orders/:orderId/complete', act('complete'));
  deps.http.post<{ Params: { orderId: string } }>('/api/orders/:orderId/cancel', act('cancel'));
}
