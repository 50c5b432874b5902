// The MQTT broker `npm start` runs in-process when nothing answers at MQTT_URL: aedes on a TCP
// server, in memory, anonymous, for development only (production runs Mosquitto).
//
// Two things aedes does differently from Mosquitto, and what is done about them here:
// - MQTT 5: aedes refuses it; MQTT 5 clients (ingest among them) go through `bridgeMqtt5`.
// - Shared subscriptions: aedes has none, and grants `$share/group/filter` as a literal filter that
//   matches no topic, so the subscriber would silently receive nothing. Refusing it does not help
//   either: mqtt.js fails the whole SUBSCRIBE on a refused filter, and ingest then has no
//   subscription at all. So `$share/group/filter` is taken as a plain subscription to `filter`:
//   the same as a shared one while a group has one member, which is all `npm start` has (its one
//   ingest); several members of a group would each receive every message. (An UNSUBSCRIBE from
//   `$share/group/filter` leaves `filter` subscribed; ingest never sends one.)
import { Aedes } from 'aedes';
import { parser, type Packet } from 'mqtt-packet';
import { createServer, type Socket } from 'node:net';
import { bridgeMqtt5, isMqtt5Connect } from './mqtt5Bridge.js';

export interface EmbeddedMqttBroker {
  stop(): Promise<void>;
}

/** `$share/{group}/{filter}` -> `filter`; other filters unchanged. */
export function unshared(filter: string): string {
  const shared = /^\$share\/[^/#+]+\/(.+)$/.exec(filter);
  return shared?.[1] ?? filter;
}

/** How long a new connection may take to send its CONNECT. */
const CONNECT_TIMEOUT_MS = 30_000;

export interface EmbeddedMqttBrokerOptions {
  host: string;
  port: number;
  /** `unshare` (default): `$share/g/f` becomes `f`. `refuse`: refused, as a broker without shared subscriptions would (for tests of ingest's fallback). */
  sharedSubscriptions?: 'unshare' | 'refuse';
}

export async function startEmbeddedMqttBroker(options: EmbeddedMqttBrokerOptions): Promise<EmbeddedMqttBroker> {
  const broker = await Aedes.createBroker({
    authorizeSubscribe: (_client, subscription, callback) => {
      if (options.sharedSubscriptions === 'refuse' && unshared(subscription.topic) !== subscription.topic) {
        // A null subscription is refused with SUBACK 0x80; an error would drop the connection.
        callback(null, null);
        return;
      }
      // Rewritten in place: aedes 1.2 persists the SUBSCRIBE packet's own subscriptions for a
      // persistent session (handlers/subscribe.js, storeSubscriptions), not the one passed back here,
      // and this object is one of them. The int test covers a persistent session over MQTT 5.
      subscription.topic = unshared(subscription.topic);
      callback(null, subscription);
    },
  });
  const sockets = new Set<Socket>();

  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Reads up to the CONNECT to learn the protocol version, then hands the socket (with those bytes) over.
    const sniffer = parser();
    const received: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
    let decided = false;
    const onData = (chunk: Buffer) => {
      received.push(chunk);
      sniffer.parse(chunk);
    };
    sniffer.on('packet', (packet: Packet) => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      const bytes = Buffer.concat(received);
      if (isMqtt5Connect(packet)) {
        bridgeMqtt5(socket, bytes, (stream) => broker.handle(stream));
      } else {
        socket.unshift(bytes);
        broker.handle(socket);
      }
    });
    sniffer.on('error', () => {
      if (!decided) socket.destroy();
    });
    socket.once('close', () => clearTimeout(timer));
    socket.on('data', onData);
  };

  const server = createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
