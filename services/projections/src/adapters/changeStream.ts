// GET /api/stream: server-sent events that tell the web console what changed, so it reads again
// without a reload. Fed from NATS: the reporting tables' changes once the projections (following
// the event log and the telemetry stream on JetStream) committed them, and new dead letters from an
// ordered consumer on MES_DEAD_LETTERS. Notices are small (topic, plant, id: never the data) and
// sent at most a few times a second, so a burst of readings costs one message per client.
import { DEAD_LETTERS_STREAM } from '@mes/contracts';
import type { Logger } from '@mes/platform';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ChangeNotice } from '../application/changeNotices.js';

/** Notices are gathered this long, then sent together. */
const FLUSH_MS = 250;
/** More distinct notices than this in one flush are sent as "everything changed". */
const MAX_NOTICES = 200;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 20_000;

export class ChangeFeed {
  private readonly clients = new Set<ServerResponse>();
  private pending = new Map<string, ChangeNotice>();
  private overflow = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly logger: Logger) {
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  publish(notices: readonly ChangeNotice[]): void {
    if (this.clients.size === 0) return;
    for (const notice of notices) {
      if (this.pending.size >= MAX_NOTICES) {
        this.overflow = true;
        break;
      }
      this.pending.set(`${notice.topic}/${notice.plantId ?? ''}/${notice.id ?? ''}`, notice);
    }
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  add(client: ServerResponse): void {
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
  }

  /** Ends every stream (the server is closing; browsers reconnect on their own). */
  close(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private flush(): void {
    this.timer = undefined;
    const body = { notices: this.overflow ? [] : [...this.pending.values()], ...(this.overflow ? { everything: true } : {}) };
    this.pending = new Map();
    this.overflow = false;
    this.write(`event: change\ndata: ${JSON.stringify(body)}\n\n`);
  }

  private write(chunk: string): void {
    for (const client of this.clients) {
      try {
        client.write(chunk);
      } catch (err) {
        this.logger.debug({ err }, 'a change stream client went away');
        this.clients.delete(client);
      }
    }
  }
}

export function registerChangeStream(http: FastifyInstance, feed: ChangeFeed): void {
  http.get('/api/stream', async (request, reply) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Reverse proxies (nginx) would otherwise hold the events back in a buffer.
      'x-accel-buffering': 'no',
    });
    response.write(`retry: 3000\n\nevent: ready\ndata: ${JSON.stringify({ caller: request.apiCaller?.name ?? null })}\n\n`);
    feed.add(response);
  });
  // Open streams would keep the server from closing.
  http.addHook('preClose', async () => feed.close());
}

/** Tells the feed of each new dead letter (an ordered consumer from now on, whole stream: nats-server 2.9 ignores filter lists). */
export async function followDeadLetters(nc: NatsConnection, feed: ChangeFeed, logger: Logger): Promise<{ stop(): void }> {
  const consumer = await jetstream(nc).consumers.get(DEAD_LETTERS_STREAM, { deliver_policy: DeliverPolicy.New });
  const messages: ConsumerMessages = await consumer.consume();
  void (async () => {
    try {
      for await (const message of messages) {
        const plantId = message.subject.split('.')[1];
        feed.publish([{ topic: 'deadLetters', ...(plantId === undefined ? {} : { plantId }) }]);
      }
    } catch (err) {
      logger.warn({ err }, 'following new dead letters for the console stopped; the console shows them on its next read');
    }
  })();
  return { stop: () => messages.stop() };
}
