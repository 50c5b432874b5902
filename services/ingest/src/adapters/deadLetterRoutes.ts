// GET /api/dead-letters (CONTRACT §5): rejected telemetry, newest first. Bearer-protected by the
// platform's /api hook. One response holds at most `limit` dead letters and about 4 MiB of them
// (a dead letter can hold 64 KiB of payload); `truncated` and `nextBefore` say how to read on.
import { IDENTIFIER_PATTERN, UNKNOWN_PLANT } from '@mes/contracts';
import { sendProblem } from '@mes/platform';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_DEAD_LETTER_PAGE_BYTES, MAX_DEAD_LETTERS_LIMIT, readDeadLetters } from './deadLetterLog.js';

const DEFAULT_LIMIT = 100;

export interface DeadLetterRouteOptions {
  /** Bytes of dead letters one response holds at most (default 4 MiB). */
  maxResponseBytes?: number;
}

export function registerDeadLetterRoutes(http: FastifyInstance, nc: NatsConnection, options: DeadLetterRouteOptions = {}): void {
  const maxBytes = options.maxResponseBytes ?? DEFAULT_DEAD_LETTER_PAGE_BYTES;
  http.get<{ Querystring: { limit?: string; plantId?: string; before?: string } }>('/api/dead-letters', async (request, reply) => {
    const { limit: limitText, plantId, before: beforeText } = request.query;
    const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTERS_LIMIT) {
      return sendProblem(reply, 400, 'INVALID_REQUEST', `limit must be a whole number from 1 to ${MAX_DEAD_LETTERS_LIMIT} (got ${JSON.stringify(limitText)})`);
    }
    if (plantId !== undefined && plantId !== UNKNOWN_PLANT && !IDENTIFIER_PATTERN.test(plantId)) {
      return sendProblem(reply, 400, 'INVALID_REQUEST', `plantId must be 1 to 64 characters of A-Z a-z 0-9 _ - or ${UNKNOWN_PLANT} (got ${JSON.stringify(plantId)})`);
    }
    const before = beforeText === undefined ? undefined : Number(beforeText);
    if (before !== undefined && !(/^\d+$/.test(beforeText!) && Number.isSafeInteger(before) && before >= 1)) {
      return sendProblem(reply, 400, 'INVALID_REQUEST', `before must be a dead letter's sequence, a whole number from 1, as nextBefore gives it (got ${JSON.stringify(beforeText)})`);
    }
    const page = await readDeadLetters(nc, { limit, maxBytes, ...(plantId === undefined ? {} : { plantId }), ...(before === undefined ? {} : { before }) });
    return {
      count: page.deadLetters.length,
      deadLetters: page.deadLetters,
      truncated: page.truncated,
      ...(page.nextBefore === undefined ? {} : { nextBefore: page.nextBefore }),
    };
  });
}
