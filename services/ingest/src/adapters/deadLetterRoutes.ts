// GET /api/dead-letters (CONTRACT §5): rejected telemetry, newest first. Bearer-protected by the
// platform's /api hook.
import { IDENTIFIER_PATTERN, UNKNOWN_PLANT } from '@mes/contracts';
import { sendProblem } from '@mes/platform';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { listDeadLetters } from './deadLetterLog.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

export function registerDeadLetterRoutes(http: FastifyInstance, nc: NatsConnection): void {
  http.get<{ Querystring: { limit?: string; plantId?: string } }>('/api/dead-letters', async (request, reply) => {
    const { limit: limitText, plantId } = request.query;
    const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      return sendProblem(reply, 400, 'INVALID_REQUEST', `limit must be a whole number from 1 to ${MAX_LIMIT} (got ${JSON.stringify(limitText)})`);
    }
    if (plantId !== undefined && plantId !== UNKNOWN_PLANT && !IDENTIFIER_PATTERN.test(plantId)) {
      return sendProblem(reply, 400, 'INVALID_REQUEST', `plantId must be 1 to 64 characters of A-Z a-z 0-9 _ - or ${UNKNOWN_PLANT} (got ${JSON.stringify(plantId)})`);
    }
    const deadLetters = await listDeadLetters(nc, { limit, ...(plantId === undefined ? {} : { plantId }) });
    return { count: deadLetters.length, deadLetters };
  });
}
