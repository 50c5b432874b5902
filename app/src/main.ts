// `npm start`: every service in one process, sharing one NATS connection and one event store, with
// the development servers it needs: when nothing answers at NATS_URL / MQTT_URL on this machine it
// starts nats-server (JetStream, store under DATA_DIR/nats) and an embedded MQTT broker (never with
// MES_ENV=production), and stops them after the services on Ctrl-C / SIGTERM (a second one exits at
// once). Exit status: 0 after a clean stop, 1 with one message when start-up fails.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { loadConfig, runUntilSignalled, startRuntime } from '@mes/platform';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { startConsole } from '@mes/console';
import { startDevelopmentServers, StartupError, type DevelopmentServers } from './development/developmentServers.js';

const say = (line: string) => void process.stdout.write(`${line}\n`);
const warn = (line: string) => void process.stderr.write(`${line}\n`);

await runUntilSignalled(
  'MES',
  async () => {
    const config = loadConfig(process.env);
    // Production runs against the plant's own NATS and MQTT broker: nothing embedded is started.
    const servers: DevelopmentServers | undefined = config.mesEnv === 'development' ? await startDevelopmentServers(config, { path: process.env.PATH, say, warn }) : undefined;
    let runtime;
    try {
      runtime = await startRuntime('mes', { console: startConsole, projections, resources, maintenance, approvals, workflow, ingest });
    } catch (err) {
      await servers?.stop().catch(() => undefined);
      throw err;
    }
    // The banner last on the console: pino writes its lines asynchronously (and its flush() does not
    // wait for a write in progress), so give the start-up lines a moment to land first. Cosmetic only.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return {
      banner: [...runtime.banner, 'Ctrl-C stops.'],
      async stop() {
        let clean = true;
        await runtime.stop().catch((err: unknown) => {
          clean = false;
          runtime.deps.logger.error({ err }, 'error while stopping');
        });
        await servers?.stop().catch((err: unknown) => {
          clean = false;
          warn(`Stopping the development servers failed: ${(err as Error).message}`);
        });
        return clean;
      },
    };
  },
  { say, describeStartFailure: (err) => (err instanceof StartupError ? err.message : `mes: cannot start: ${(err as Error).message}`) },
);
