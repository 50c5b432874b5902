// `npm start`: every service in one process, sharing one NATS connection and one event store, with
// the development servers it needs: when nothing answers at NATS_URL / MQTT_URL on this machine it
// starts nats-server (JetStream, store under DATA_DIR/nats) and an embedded MQTT broker, and stops
// them after the services on Ctrl-C / SIGTERM (a second one exits at once). Exit status: 0 after a
// clean stop, 1 with one message when start-up fails.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { loadConfig, startRuntime, type Runtime } from '@mes/platform';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';
import { startConsole } from '@mes/console';
import { startDevelopmentServers, StartupError, type DevelopmentServers } from './development/developmentServers.js';

const say = (line: string) => void process.stdout.write(`${line}\n`);
const warn = (line: string) => void process.stderr.write(`${line}\n`);

function cannotStart(err: unknown): never {
  warn(err instanceof StartupError ? err.message : `mes: cannot start: ${(err as Error).message}`);
  process.exit(1);
}

let servers: DevelopmentServers | undefined;
let runtime: Runtime | undefined;
let started = false;
let stopRequested = false;
let pendingSignal: NodeJS.Signals | undefined;

async function stopEverything(signal: NodeJS.Signals): Promise<never> {
  runtime?.deps.logger.info({ signal }, 'stopping');
  let clean = true;
  await runtime?.stop().catch((err: unknown) => {
    clean = false;
    runtime?.deps.logger.error({ err }, 'error while stopping');
  });
  await servers?.stop().catch((err: unknown) => {
    clean = false;
    warn(`Stopping the development servers failed: ${(err as Error).message}`);
  });
  say(clean ? 'MES stopped.' : 'MES stopped, with errors (see above).');
  process.exit(clean ? 0 : 1);
}

const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested) {
    warn(`${signal} again: exiting without waiting.`);
    process.exit(130);
  }
  stopRequested = true;
  if (started) void stopEverything(signal);
  else {
    pendingSignal = signal;
    say('Stopping as soon as start-up is done (again to exit at once).');
  }
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  servers = await startDevelopmentServers(loadConfig(process.env), { path: process.env.PATH, say, warn });
} catch (err) {
  cannotStart(err);
}

try {
  runtime = await startRuntime('mes', { console: startConsole, projections, resources, maintenance, approvals, workflow, ingest });
} catch (err) {
  await servers.stop().catch(() => undefined);
  cannotStart(err);
}

started = true;
if (pendingSignal !== undefined) await stopEverything(pendingSignal);
// The banner last on the console: pino writes its lines asynchronously (and its flush() does not
// wait for a write in progress), so give the start-up lines a moment to land first. Cosmetic only.
await new Promise((resolve) => setTimeout(resolve, 100));
say([...runtime.banner, 'Ctrl-C stops.'].join('\n'));
