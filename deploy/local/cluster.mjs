#!/usr/bin/env node
// `npm run cluster`: the production topology as local processes, to try failover on one machine:
// a three-node NATS cluster (JetStream, NATS_REPLICAS=3), Mosquitto with persistence, an SMTP
// server that prints the approval links it receives, N copies of every service (each its own
// process, HTTP port and log file), and the web console. Killed copies are started again after
// two seconds, as a process manager would. Type `help` for commands; Ctrl-C stops everything.
//
//   npm run cluster -- [--copies 2] [--replicas 3] [--dir data/cluster]
//                      [--nats-port 4222] [--mqtt-port 1883] [--http-port 3000] [--no-console]
//
// Needs nats-server and mosquitto on the PATH (Debian: apt-get install -y nats-server mosquitto).
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (line) => process.stdout.write(`${line}\n`);
const fail = (line) => {
  process.stderr.write(`cluster: ${line}\n`);
  process.exit(1);
};

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      copies: { type: 'string', default: '2' },
      replicas: { type: 'string', default: '3' },
      dir: { type: 'string', default: join(root, 'data', 'cluster') },
      'nats-port': { type: 'string', default: '4222' },
      'mqtt-port': { type: 'string', default: '1883' },
      'http-port': { type: 'string', default: '3000' },
      'no-console': { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  fail(`${err.message}\nusage: npm run cluster -- [--copies N] [--replicas N] [--dir PATH] [--nats-port P] [--mqtt-port P] [--http-port P] [--no-console]`);
}
const number = (name) => {
  const value = Number(options[name]);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a whole number of at least 1 (got "${options[name]}")`);
  return value;
};
const copies = number('copies');
const replicas = number('replicas');
const natsPort = number('nats-port');
const mqttPort = number('mqtt-port');
const httpPort = number('http-port');
const withConsole = !options['no-console'];

let testing;
try {
  testing = await import(join(root, 'platform', 'dist', 'testing', 'index.js'));
} catch (err) {
  fail(`needs the build: run npm run build first (${err.message})`);
}
const { startServiceCluster, approvalEmail, CLUSTER_API_TOKEN, SERVICE_NAMES } = testing;

/** Fails with the flag to change when a port is taken (another NATS, broker or npm start running). */
async function requireFree(port, flag) {
  const free = await new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort(true)));
  });
  if (!free) fail(`port ${port} is in use on 127.0.0.1; choose another with ${flag}`);
}
const natsPorts = [natsPort, natsPort + 1, natsPort + 2];
for (const port of natsPorts) await requireFree(port, '--nats-port');
await requireFree(mqttPort, '--mqtt-port');
const httpPorts = copies * SERVICE_NAMES.length + 1;
for (let port = httpPort; port < httpPort + httpPorts; port++) await requireFree(port, '--http-port');

const plantConfigPath = process.env.MES_CONFIG ?? join(root, 'platform', 'config', 'plants.example.yaml');
if (!existsSync(plantConfigPath)) fail(`no plant configuration at ${plantConfigPath} (MES_CONFIG)`);

say(`Starting NATS (3 nodes), Mosquitto and ${copies} copies of each of ${SERVICE_NAMES.length} services; stores and logs in ${options.dir}`);
const cluster = await startServiceCluster({
  plantsYaml: readFileSync(plantConfigPath, 'utf8'),
  copies,
  natsReplicas: replicas,
  dir: options.dir,
  // The console gets the first HTTP port; the copies count up after it.
  ports: { nats: natsPorts, mqtt: mqttPort, http: httpPort + 1 },
}).catch((err) => fail(err.message));

let stopping = false;
let stopRequestedAt = 0;
const stopAll = async () => {
  if (stopping) {
    // One Ctrl-C can arrive twice (to the process and to its group); a second one a moment later is a person's.
    if (Date.now() - stopRequestedAt < 1_000) return;
    say('Stopping already; exiting at once.');
    process.exit(130);
  }
  stopping = true;
  stopRequestedAt = Date.now();
  say('Stopping the copies, then Mosquitto and NATS...');
  await cluster.stop();
  say(`Stopped. Stores and logs are kept in ${options.dir}.`);
  process.exit(0);
};
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());

try {
  if (withConsole) {
    // The console is app/ (`npm start` without its development servers): every service in one
    // process, so its pages have every API route. It is one more copy of every service.
    await cluster.addProcess('console', join(root, 'app', 'dist', 'main.js'), { MQTT_CLIENT_ID: 'mes-ingest-console' }, httpPort);
  }
  await cluster.startAll();
} catch (err) {
  await cluster.dispose().catch(() => undefined);
  fail(err.message);
}

// A process manager's job: a copy that exits (a crash, or kill -9 from a person trying failover)
// is started again after two seconds.
const restarting = new Set();
/** Copies a person stopped on purpose (`stop NAME`): left down until `start NAME`. */
const paused = new Set();
void (async () => {
  while (!stopping) {
    for (const copy of cluster.copies) {
      if (stopping || copy.running() || restarting.has(copy.name) || paused.has(copy.name)) continue;
      restarting.add(copy.name);
      say(`${copy.name} is down; starting it again in 2 s`);
      void sleep(2_000)
        .then(() => (stopping || paused.has(copy.name) ? undefined : copy.start().then(() => say(`${copy.name} is running again (pid ${copy.pid()})`))))
        .catch((err) => say(`${copy.name} did not start: ${err.message.split('\n')[0]}; trying again`))
        .finally(() => restarting.delete(copy.name));
    }
    await sleep(1_000);
  }
})();

// Approval emails land in the SMTP server here: print their links, as an approver's mailbox would show them.
void (async () => {
  let seen = 0;
  while (!stopping) {
    for (; seen < cluster.smtp.messages.length; seen++) {
      const mail = cluster.smtp.messages[seen];
      try {
        const email = approvalEmail(mail);
        say(`mail to ${mail.to?.text ?? '?'}: ${mail.subject}\n  approve: ${email.approveUrl}\n  reject:  ${email.rejectUrl}`);
      } catch {
        say(`mail to ${mail.to?.text ?? '?'}: ${mail.subject}`);
      }
    }
    await sleep(500);
  }
})();

function status() {
  const lines = [
    `NATS_URL=${cluster.nats.url}  (NATS_REPLICAS=${replicas})`,
    ...cluster.nats.nodes.map((node, i) => `  nats ${i + 1}  ${node.name.padEnd(14)} ${node.url}  pid ${node.pid() ?? 'down'}  log ${join(dirname(node.storeDir), 'nats-server.log')}`),
    `MQTT_URL=${cluster.mosquitto.url}  (Mosquitto, persistence on; pid ${cluster.mosquitto.pid() ?? 'down'})`,
    `SMTP_URL=${cluster.smtp.url}  (approval emails are printed here)`,
    `SQL_URL=sqlite:${cluster.sqlitePath}`,
    `API_TOKEN=${CLUSTER_API_TOKEN}`,
    ...cluster.copies.map((copy) => `  ${copy.name.padEnd(14)} ${copy.httpUrl}  pid ${String(copy.pid() ?? 'down').padEnd(7)} PLANTS=${copy.plants?.join(',') ?? 'all'}  log ${copy.logFile}`),
  ];
  if (withConsole) lines.push(`Web console: http://127.0.0.1:${httpPort}/ (sign in with the API token)`);
  return lines.join('\n');
}

say(status());
say("Ready. Type 'help' for commands (kill a copy, stop and start a NATS node, restart Mosquitto); Ctrl-C stops everything.");

const HELP = `commands:
  status                 where everything is, with pids
  kill NAME              SIGKILL a copy (e.g. kill ingest-1); it is started again after 2 s
  stop NAME / start NAME stop a copy and keep it down / start it again
  nats kill N            SIGKILL NATS node N (1-3); nats start N brings it back
  nats stop N            stop NATS node N cleanly
  mqtt restart           restart Mosquitto (sessions are kept on disk)
  quit                   stop everything (as Ctrl-C)`;

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [command, arg, arg2] = line.trim().split(/\s+/);
  const copy = (name) => cluster.copies.find((c) => c.name === name);
  const node = (n) => cluster.nats.nodes[Number(n) - 1];
  const run = async () => {
    switch (command) {
      case '':
      case undefined:
        return;
      case 'help':
        return say(HELP);
      case 'status':
        return say(status());
      case 'kill':
        if (!copy(arg)) return say(`no copy named ${arg}; see status`);
        await copy(arg).kill();
        return say(`${arg} killed`);
      case 'stop':
        if (!copy(arg)) return say(`no copy named ${arg}; see status`);
        paused.add(arg);
        await copy(arg).stop();
        return say(`${arg} stopped; start ${arg} brings it back`);
      case 'start':
        if (!copy(arg)) return say(`no copy named ${arg}; see status`);
        paused.delete(arg);
        await copy(arg).start();
        return say(`${arg} running (pid ${copy(arg).pid()})`);
      case 'nats': {
        const target = node(arg2);
        if (!target || !['kill', 'stop', 'start'].includes(arg)) return say('usage: nats kill|stop|start N (N from 1 to 3)');
        await target[arg]();
        return say(`NATS node ${arg2} (${target.name}): ${arg === 'start' ? 'running' : 'down'}`);
      }
      case 'mqtt':
        if (arg !== 'restart') return say('usage: mqtt restart');
        await cluster.mosquitto.restart();
        return say('Mosquitto restarted');
      case 'quit':
        return stopAll();
      default:
        return say(`unknown command ${command}; type help`);
    }
  };
  run().catch((err) => say(`${command}: ${err.message}`));
});
