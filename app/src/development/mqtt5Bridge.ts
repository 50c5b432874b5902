// MQTT 5 clients on the embedded broker. Aedes speaks MQTT 3.1 and 3.1.1 only and refuses an MQTT 5
// CONNECT ("unacceptable protocol version"), while CONTRACT §1 lets edge devices use MQTT 5 and
// ingest always connects with it. This bridge sits between an MQTT 5 client's socket and aedes and
// translates each packet: the client sees an MQTT 5 broker without the features of MQTT 5 (its
// properties are dropped; the CONNACK says subscription identifiers are not available and offers
// no topic aliases), and aedes sees an MQTT 3.1.1 client.
//
// Session: MQTT 5 "clean start = false with a session expiry > 0" becomes a 3.1.1 persistent
// session (clean = false), which the embedded broker keeps in memory while it runs; anything else
// becomes clean = true.
import { generate, parser, type IConnectPacket, type Packet } from 'mqtt-packet';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** 3.1.1 CONNACK return code -> MQTT 5 reason code. */
const CONNACK_REASON: Readonly<Record<number, number>> = { 0: 0x00, 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87 };
const UNSPECIFIED_ERROR = 0x80;
const BAD_AUTHENTICATION_METHOD = 0x8c;
const TOPIC_ALIAS_INVALID = 0x94;
const PROTOCOL_ERROR = 0x82;

/** Whether the first packet of a connection is an MQTT 5 CONNECT. */
export function isMqtt5Connect(packet: Packet): boolean {
  return packet.cmd === 'connect' && packet.protocolVersion === 5;
}

/**
 * Connects an MQTT 5 client's `socket` to `handle` (aedes's handle) through a translating stream.
 * `received` holds the bytes already read from the socket, starting with its CONNECT.
 */
export function bridgeMqtt5(socket: Socket, received: Buffer, handle: (stream: Duplex) => void): void {
  const fromClient = parser({ protocolVersion: 5 });
  const fromBroker = parser({ protocolVersion: 4 });
  /** How many filters each pending UNSUBSCRIBE names, by packet id: the MQTT 5 UNSUBACK has a reason code for each. */
  const pendingUnsubscribes = new Map<number, number>();

  let refused = false;
  const toClient = (packet: Packet) => socket.write(generate(packet, { protocolVersion: 5 }));
  /** Ends the socket once what was written is flushed (at most 2 s later). */
  const closeSocket = () => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.end(() => socket.destroy());
    setTimeout(() => socket.destroy(), 2_000).unref();
  };
  const refuse = (packet: Packet) => {
    refused = true;
    toClient(packet);
    broker.destroy();
  };

  const broker = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      fromBroker.parse(chunk);
      if (socket.writableNeedDrain) socket.once('drain', () => callback());
      else callback();
    },
    final(callback) {
      closeSocket();
      callback();
    },
    destroy(err, callback) {
      closeSocket();
      callback(err);
    },
  });

  const toBroker = (packet: Packet) => {
    if (!broker.push(generate(packet, { protocolVersion: 4 }))) socket.pause();
  };

  fromClient.on('packet', (packet: Packet) => {
    if (refused) return;
    switch (packet.cmd) {
      case 'connect': {
        if (packet.properties?.authenticationMethod !== undefined) {
          refuse({ cmd: 'connack', sessionPresent: false, reasonCode: BAD_AUTHENTICATION_METHOD });
          return;
        }
        const persistent = packet.clean === false && (packet.properties?.sessionExpiryInterval ?? 0) > 0;
        const connect: IConnectPacket = {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: packet.clientId,
          clean: !persistent,
          keepalive: packet.keepalive ?? 0,
        };
        if (packet.username !== undefined) connect.username = packet.username;
        if (packet.password !== undefined) connect.password = packet.password;
        if (packet.will) connect.will = { topic: packet.will.topic, payload: packet.will.payload, qos: packet.will.qos ?? 0, retain: packet.will.retain ?? false };
        toBroker(connect);
        return;
      }
      case 'publish':
        if (packet.properties?.topicAlias !== undefined) {
          // No Topic Alias Maximum was offered in the CONNACK, so an alias is a protocol error.
          refuse({ cmd: 'disconnect', reasonCode: TOPIC_ALIAS_INVALID });
          return;
        }
        toBroker({ cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, ...(packet.messageId === undefined ? {} : { messageId: packet.messageId }) });
        return;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        toBroker({ cmd: packet.cmd, messageId: packet.messageId! });
        return;
      case 'subscribe':
        toBroker({ cmd: 'subscribe', messageId: packet.messageId!, subscriptions: packet.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) });
        return;
      case 'unsubscribe':
        pendingUnsubscribes.set(packet.messageId!, packet.unsubscriptions.length);
        toBroker({ cmd: 'unsubscribe', messageId: packet.messageId!, unsubscriptions: packet.unsubscriptions });
        return;
      case 'pingreq':
        toBroker({ cmd: 'pingreq' });
        return;
      case 'disconnect':
        toBroker({ cmd: 'disconnect' });
        return;
      default:
        // AUTH, or a packet only a server sends.
        refuse({ cmd: 'disconnect', reasonCode: PROTOCOL_ERROR });
    }
  });

  fromBroker.on('packet', (packet: Packet) => {
    switch (packet.cmd) {
      case 'connack':
        toClient({
          cmd: 'connack',
          sessionPresent: packet.sessionPresent,
          reasonCode: CONNACK_REASON[packet.returnCode ?? 0] ?? UNSPECIFIED_ERROR,
          properties: { subscriptionIdentifiersAvailable: false },
        });
        return;
      case 'publish':
        toClient({ cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, ...(packet.messageId === undefined ? {} : { messageId: packet.messageId }) });
        return;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        toClient({ cmd: packet.cmd, messageId: packet.messageId!, reasonCode: 0 });
        return;
      case 'suback':
        // 3.1.1 return codes (0, 1, 2, 0x80 failure) mean the same in MQTT 5.
        toClient({ cmd: 'suback', messageId: packet.messageId!, granted: packet.granted as number[] });
        return;
      case 'unsuback': {
        const count = pendingUnsubscribes.get(packet.messageId!) ?? 1;
        pendingUnsubscribes.delete(packet.messageId!);
        toClient({ cmd: 'unsuback', messageId: packet.messageId!, granted: new Array<number>(count).fill(0) });
        return;
      }
      case 'pingresp':
        toClient({ cmd: 'pingresp' });
        return;
      default:
        // Aedes sends nothing else to a 3.1.1 client.
        return;
    }
  });

  fromClient.on('error', () => socket.destroy());
  fromBroker.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => fromClient.parse(chunk));
  socket.on('end', () => broker.push(null));
  socket.on('close', () => broker.destroy());
  socket.on('error', () => undefined); // 'close' follows
  handle(broker);
  fromClient.parse(received);
  socket.resume();
}
