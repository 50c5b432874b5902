// What `npm start` needs before the services start: a NATS server with JetStream and an MQTT broker.
// When nothing answers at NATS_URL / MQTT_URL on this machine, it starts them itself: nats-server
// (if installed) with its store under DATA_DIR/nats, and an embedded MQTT broker.
import type { Config } from '@mes/platform';
import { join } from 'node:path';
import { startEmbeddedMqttBroker, type EmbeddedMqttBroker } from './embeddedMqttBroker.js';
import { findOnPath, startDevelopmentNatsServer, type DevelopmentNatsServer } from './natsServer.js';
import { answers, isLoopback, serverAddress } from './tcp.js';

/** A start-up failure whose message is a whole sentence for the person at the console. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface DevelopmentServers {
  /** Stops what was started here: the embedded broker, then nats-server. */
  stop(): Promise<void>;
}

export interface DevelopmentServersOptions {
  /** The PATH where nats-server is looked for. */
  path: string | undefined;
  /** A line for the person at the console. */
  say(line: string): void;
  /** Something went wrong after start-up. */
  warn(line: string): void;
}

export async function startDevelopmentServers(config: Config, options: DevelopmentServersOptions): Promise<DevelopmentServers> {
  const nats = serverAddress(config.natsUrl, 4222);
  const mqtt = serverAddress(config.mqttUrl, 1883);
  const mayStartNats = nats.shown.startsWith('nats://') && isLoopback(nats.host);
  const mayStartMqtt = mqtt.shown.startsWith('mqtt://') && isLoopback(mqtt.host);
  const [natsAnswers, mqttAnswers] = await Promise.all([mayStartNats ? answers(nats.host, nats.port) : true, mayStartMqtt ? answers(mqtt.host, mqtt.port) : true]);

  let natsServer: DevelopmentNatsServer | undefined;
  let broker: EmbeddedMqttBroker | undefined;
  const stop = async () => {
    await broker?.stop();
    await natsServer?.stop();
  };

  if (!natsAnswers) {
    const binary = findOnPath('nats-server', options.path);
    if (binary === undefined) {
      throw new StartupError(
        `No NATS server answers at ${nats.shown} (NATS_URL) and nats-server is not on the PATH: install it (Debian: apt-get install -y nats-server, which puts it in /usr/sbin) or point NATS_URL at a NATS server with JetStream.`,
      );
    }
    const storeDir = join(config.dataDir, 'nats');
    try {
      natsServer = await startDevelopmentNatsServer({
        binary,
        host: nats.host,
        port: nats.port,
        storeDir,
        onUnexpectedExit: (how, output) => options.warn(`nats-server on ${nats.shown} ${how}; the services keep trying to reconnect. Its last output:\n${output.trim()}`),
      });
    } catch (err) {
      throw new StartupError(`No NATS server answers at ${nats.shown} (NATS_URL), and starting one failed: ${(err as Error).message}`);
    }
    options.say(`Started nats-server (JetStream, store ${storeDir}) on ${nats.shown}`);
  }

  if (!mqttAnswers) {
    try {
      broker = await startEmbeddedMqttBroker({ host: mqtt.host, port: mqtt.port });
    } catch (err) {
      await stop();
      throw new StartupError(`No MQTT broker answers at ${mqtt.shown} (MQTT_URL), and the embedded one could not listen there: ${(err as Error).message}`);
    }
    options.say(`No MQTT broker at ${mqtt.shown}: started an embedded broker (aedes) there; for production run Mosquitto and set MQTT_URL.`);
  }

  return { stop };
}
