// The MQTT side of ingest: a persistent session on a shared subscription, messages handed over one
// at a time, reading paused while the caller has no room, and each QoS 1 PUBACK held back until
// the caller says the message is stored.
//
// PUBACK timing. mqtt.js sends a QoS 1 PUBACK when the `handleMessage` callback is called, and
// handles the next packet only after that, so delaying the callback until the JetStream ack would
// process one message per round trip. Instead the callback is called at once (reading goes on) and
// the PUBACK packet it triggers is held here until `ack()` (stored in JetStream) releases it. A
// reading in flight when ingest dies (kill -9) was therefore never PUBACKed: the broker keeps it
// in the persistent session and sends it again on reconnect, and JetStream's `Nats-Msg-Id` drops it
// if it had been stored. How many un-PUBACKed messages the broker sends at once is the MQTT 5
// Receive Maximum ingest announces (its window). Without one (65535 by the protocol), Mosquitto
// 2.0.11 with tens of thousands of readings waiting for ingest was seen to send a packet id again
// while the earlier message with it was unacknowledged, and then to stop delivering altogether
// with readings still queued (the benchmark stalled at 26k-90k of 100k).
// Holding the packet uses mqtt.js's internal `_sendPacket` (pinned to mqtt 5; the int tests cover it).
//
// PUBACKs leave in the order the messages arrived: see heldPubacks.ts.
//
// Shared subscriptions and persistent sessions (measured on Mosquitto 2.0.11): the broker deals the
// messages of `$share/{group}/...` round-robin over every member of the group, including members
// whose persistent session is offline; an offline member's share is queued in its session (up to
// the broker's max_queued_messages, beyond which Mosquitto drops them) and delivered when that
// client id reconnects. So a copy restarted with the same client id loses nothing, while a copy that
// never comes back under its id leaves a session that keeps absorbing its share until the session
// expires. Hence a stable client id per copy (MQTT_CLIENT_ID, default mes-ingest-{hostname}) and a
// bounded session expiry (MQTT 5).
//
// Subscribing on every connection. Mosquitto 2.0.11 restores plain subscriptions from its
// persistence file after a restart but not `$share/...` ones, so a session it reports as present
// (`sessionPresent: true`) may hold no subscription at all. mqtt.js, trusting the session, neither
// resubscribes nor sends a SUBSCRIBE for a filter it remembers as subscribed; ingest therefore turns
// mqtt.js's own bookkeeping off (`resubscribe: false`) and sends its SUBSCRIBE on every connect
// (repeating one the broker still has is harmless). Readings published after the broker is back but
// before this SUBSCRIBE arrives are still acknowledged to the device and dropped by the broker;
// ingest reconnects every 200 ms to keep that window shorter than a device's reconnect delay.
import type { TraceContextFields } from '@mes/contracts';
import { traceContextFrom } from '@mes/platform';
import mqtt, { type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import { HeldPubacks, type HeldPuback } from './heldPubacks.js';

export interface TelemetryMessage {
  topic: string;
  payload: Buffer;
  /**
   * When it arrived, strictly after the message before it: a reading without a device timestamp is
   * stamped with it, and two readings of a machine stamped alike would count as one repeated.
   */
  receivedAt: Date;
  /** The device's trace context, from MQTT 5 user properties `traceparent` / `tracestate`. */
  trace?: TraceContextFields | undefined;
}

export interface MqttTelemetrySourceOptions {
  url: string;
  clientId: string;
  /** Topic filters, e.g. `mes/+/+/telemetry`; subscribed as `$share/{sharedGroup}/{filter}` when a group is given. */
  topicFilters: readonly string[];
  sharedGroup: string | undefined;
  /** How long the broker keeps this client's session (and queues its messages) while it is offline. */
  sessionExpirySeconds: number;
  logger: Logger;
  /**
   * One message; call `settle(true)` once it is safely in JetStream (its PUBACK goes out once every
   * earlier message is settled too), or `settle(false)` to give it up (never PUBACKed on this
   * connection: the broker delivers it again on the next). Must not throw.
   */
  onMessage(message: TelemetryMessage, settle: (stored: boolean) => void): void;
  /** False while the caller has no room: reading pauses until `resume()`. */
  hasRoom(): boolean;
  /**
   * MQTT 5 Receive Maximum: the most QoS 1 messages the broker sends before their PUBACKs (1 to
   * 65535). Default 65535, the protocol's.
   */
  receiveMaximum?: number;
  /** How long an unsettled message holds back the PUBACKs of later ones before they go out of order. Default 2000 ms. */
  pubackOrderWaitMs?: number;
}

type SendPacket = (packet: Packet, cb?: () => void, ...rest: unknown[]) => void;

const SESSION_TAKEN_OVER = 142;
const noop = (): void => undefined;
const RECONNECT_PERIOD_MS = 200;
const ERROR_LOG_INTERVAL_MS = 30_000;

export class MqttTelemetrySource {
  private client: MqttClient | undefined;
  /**
   * The message whose mqtt.js callback is running: mqtt.js sends its PUBACK from within it. Matched
   * by delivery, not by packet id alone: a broker with more than 65535 messages queued for this
   * session can hand out a packet id again while an earlier message with it is still unacknowledged
   * (seen with Mosquitto 2.0.11), and a map by packet id lost the first one's PUBACK.
   */
  private delivering: HeldPuback | undefined;
  /** Created with the client (it sends through mqtt.js's own `_sendPacket`). */
  private pubacks: HeldPubacks | undefined;
  private pausedCallback: (() => void) | undefined;
  private accepting = true;
  private subscribedOnce = false;
  private sharedSubscription: boolean | undefined;
  private lastReceivedAt = 0;

  /** The broker URL without `user:password@`, for logs and errors. */
  private readonly shownUrl: string;

  constructor(private readonly options: MqttTelemetrySourceOptions) {
    this.shownUrl = options.url.replace(/\/\/[^/@\s]*@/, '//***@');
  }

  /** Whether the last subscription is shared (undefined before the first one). */
  get shared(): boolean | undefined {
    return this.sharedSubscription;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get paused(): boolean {
    return this.pausedCallback !== undefined;
  }

  /** Connects and subscribes; resolves after the first subscription, or rejects after `timeoutMs` (the client keeps retrying). */
  start(timeoutMs: number): Promise<void> {
    const { logger } = this.options;
    const client = mqtt.connect(this.options.url, {
      clientId: this.options.clientId,
      clean: false,
      protocolVersion: 5,
      properties: {
        sessionExpiryInterval: this.options.sessionExpirySeconds,
        ...(this.options.receiveMaximum === undefined ? {} : { receiveMaximum: this.options.receiveMaximum }),
      },
      // Quicker than a device's usual 1 s, so that after a broker restart ingest has subscribed again
      // before the devices reconnect and publish (see "Subscribing on every connection").
      reconnectPeriod: RECONNECT_PERIOD_MS,
      connectTimeout: 10_000,
      // We subscribe on every connect ourselves; see "Subscribing on every connection" above.
      resubscribe: false,
    });
    this.client = client;
    const internal = client as unknown as { _sendPacket: SendPacket };
    const original = internal._sendPacket.bind(client);
    const pubacks = new HeldPubacks((packet) => original(packet), this.options.pubackOrderWaitMs);
    this.pubacks = pubacks;
    internal._sendPacket = (packet, cb, ...rest) => {
      const held = this.delivering;
      if (packet.cmd === 'puback' && held !== undefined && packet.messageId === held.messageId) {
        this.delivering = undefined;
        pubacks.produced(held, packet);
        cb?.();
        return;
      }
      original(packet, cb, ...rest);
    };
    client.handleMessage = (packet, callback) => this.handle(packet as IPublishPacket, callback);

    // One line per outage, not one per reconnect attempt.
    let lastErrorLoggedAt = 0;
    client.on('error', (err) => {
      if (Date.now() - lastErrorLoggedAt < ERROR_LOG_INTERVAL_MS) return;
      lastErrorLoggedAt = Date.now();
      logger.warn({ err, mqttUrl: this.shownUrl }, 'MQTT error');
    });
    client.on('connect', () => {
      lastErrorLoggedAt = 0;
    });
    client.on('offline', () => logger.warn({ mqttUrl: this.shownUrl }, 'MQTT broker unreachable; reconnecting'));
    client.on('close', () => {
      pubacks.clear();
    });
    client.on('disconnect', (packet) => {
      if (packet.reasonCode === SESSION_TAKEN_OVER) {
        logger.error({ clientId: this.options.clientId }, 'another MQTT client connected with this client id and took over the session: give every ingest copy its own MQTT_CLIENT_ID');
      }
    });

    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cannot reach the MQTT broker at ${this.shownUrl} (MQTT_URL) within ${timeoutMs} ms; still retrying`)), timeoutMs);
      client.on('connect', (connack) => {
        // Every connect, also with `sessionPresent: true`: the broker may have lost the subscription.
        logger.info({ mqttUrl: this.shownUrl, clientId: this.options.clientId, sessionPresent: connack.sessionPresent }, 'MQTT connected');
        this.subscribe().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (err: unknown) => logger.error({ err }, 'MQTT subscription failed; retrying on the next connection'),
        );
      });
    });
  }

  /** Resumes reading if it was paused and the caller has room again. */
  resume(): void {
    if (this.pausedCallback === undefined || !this.accepting || !this.options.hasRoom()) return;
    const callback = this.pausedCallback;
    this.pausedCallback = undefined;
    callback();
  }

  /** Calls mqtt.js's callback for a message, which sends its PUBACK: held until `entry` is stored. */
  private release(entry: HeldPuback | undefined, callback: () => void): void {
    this.delivering = entry;
    try {
      callback();
    } finally {
      this.delivering = undefined;
    }
  }

  /** Stops taking messages: the one being delivered now and all later ones stay with the broker. */
  pause(): void {
    this.accepting = false;
  }

  /** Ends the connection (the persistent session stays on the broker). */
  async stop(): Promise<void> {
    this.accepting = false;
    const client = this.client;
    if (client === undefined) return;
    // What was stored is acknowledged before leaving, even behind a message still in progress.
    this.pubacks?.sendStored();
    await client.endAsync(false).catch((err: unknown) => this.options.logger.warn({ err }, 'MQTT client did not end cleanly'));
  }

  /** Now, or a millisecond after the previous message when several arrive within one. */
  private receptionTime(): Date {
    this.lastReceivedAt = Math.max(Date.now(), this.lastReceivedAt + 1);
    return new Date(this.lastReceivedAt);
  }

  private handle(packet: IPublishPacket, callback: () => void): void {
    if (!this.accepting) {
      // Neither processed nor PUBACKed: the broker keeps it for the next session.
      this.pausedCallback = callback;
      return;
    }
    const pubacks = this.pubacks!;
    const entry = packet.qos > 0 && packet.messageId !== undefined ? pubacks.add(packet.messageId) : undefined;
    try {
      const settle = entry === undefined ? noop : (stored: boolean) => pubacks.settle(entry, stored);
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const userProperties = packet.properties?.userProperties;
      this.options.onMessage({ topic: packet.topic, payload, receivedAt: this.receptionTime(), trace: userProperties === undefined ? undefined : traceContextFrom(userProperties) }, settle);
    } catch (err) {
      this.options.logger.error({ err, topic: packet.topic }, 'telemetry message handler failed');
      // Left with the broker (it delivers it again on the next connection), without holding up the others.
      if (entry !== undefined) pubacks.settle(entry, false);
    }
    if (this.options.hasRoom()) this.release(entry, callback);
    else this.pausedCallback = () => this.release(entry, callback);
  }

  private async subscribe(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    const { sharedGroup, topicFilters, logger } = this.options;
    if (sharedGroup !== undefined && this.sharedSubscription !== false) {
      const shared = topicFilters.map((filter) => `$share/${sharedGroup}/${filter}`);
      let granted: { qos: number }[];
      try {
        granted = await client.subscribeAsync(shared, { qos: 1 });
      } catch (err) {
        // mqtt.js rejects the whole call when the SUBACK refuses any filter (reason code >= 0x80).
        const refused = subscriptionRefusal(err);
        if (refused === undefined) throw err;
        granted = refused.map((code) => ({ qos: code }));
      }
      if (granted.every((grant) => grant.qos < 128)) {
        this.noteSubscribed(true, shared);
        return;
      }
      logger.warn({ granted, mqttUrl: this.shownUrl }, 'the MQTT broker refused a shared subscription; falling back to a plain subscription, so every ingest copy on these topics receives every reading: run one copy per plant set (PLANTS)');
      await client.unsubscribeAsync(shared).catch(() => undefined);
    }
    const granted = await client.subscribeAsync([...topicFilters], { qos: 1 });
    const refused = granted.filter((grant) => grant.qos >= 128);
    if (refused.length > 0) throw new Error(`the MQTT broker refused the subscription to ${refused.map((grant) => grant.topic).join(', ')}`);
    this.noteSubscribed(false, topicFilters);
  }

  private noteSubscribed(shared: boolean, filters: readonly string[]): void {
    if (!this.subscribedOnce || this.sharedSubscription !== shared) {
      this.options.logger.info({ filters, shared }, 'subscribed to telemetry');
    }
    this.subscribedOnce = true;
    this.sharedSubscription = shared;
  }
}

/**
 * The SUBACK reason codes of a refused subscription as mqtt.js reports it (an ErrorWithSubackPacket
 * `Subscribe error: ...` carrying the SUBACK), or undefined for any other failure (a lost connection).
 */
export function subscriptionRefusal(err: unknown): number[] | undefined {
  if (!(err instanceof Error) || !err.message.startsWith('Subscribe error')) return undefined;
  const granted = (err as { packet?: { granted?: unknown } }).packet?.granted;
  if (!Array.isArray(granted) || !granted.some((code) => typeof code === 'number' && code >= 0x80)) return undefined;
  return granted.map((code) => (typeof code === 'number' ? code : 0x80));
}
