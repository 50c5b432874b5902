// `npm run chaos`: a chaos run on the production topology as local processes, bounded in count and
// time, with a summary table; exit status 0 when every check holds.
//
//   npm run chaos -- [--incidents 1000] [--rate 8] [--copies 2] [--replicas 3] [--kill-every 3]
//                    [--down 2] [--nats-down 6] [--time-limit 1200] [--dir PATH]
//
// The drive lasts incidents / rate seconds; a copy is killed every --kill-every seconds during it,
// a NATS node is killed at 30% and at 65% of it (back after --nats-down seconds) and Mosquitto is
// restarted at 50%. --dir keeps the stores and one log per process there.
import { parseArgs } from 'node:util';
import { runChaos } from './runChaos.js';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '8' },
    copies: { type: 'string', default: '2' },
    replicas: { type: 'string', default: '3' },
    'kill-every': { type: 'string', default: '3' },
    down: { type: 'string', default: '2' },
    'nats-down': { type: 'string', default: '6' },
    'time-limit': { type: 'string', default: '1200' },
    dir: { type: 'string' },
  },
});

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`chaos: --${name} must be a positive number (got "${text ?? ''}")\n`);
    process.exit(2);
  }
  return value;
}

const incidents = Math.round(positive('incidents', values.incidents));
const rate = positive('rate', values.rate);
const driveMs = (incidents / rate) * 1000;
const killEveryMs = positive('kill-every', values['kill-every']) * 1000;
const natsDownMs = positive('nats-down', values['nats-down']) * 1000;
const timeLimitMs = positive('time-limit', values['time-limit']) * 1000;

const timeLimit = setTimeout(() => {
  process.stderr.write(`chaos: not done within --time-limit ${timeLimitMs / 1000} s; stopping (processes of the run may need a moment to exit)\n`);
  process.exit(1);
}, timeLimitMs);
timeLimit.unref();

const report = await runChaos({
  incidents,
  rate,
  copies: Math.round(positive('copies', values.copies)),
  natsReplicas: Math.round(positive('replicas', values.replicas)),
  plan: {
    kills: Math.max(1, Math.floor(driveMs / killEveryMs)),
    killEveryMs,
    downMs: positive('down', values.down) * 1000,
    natsOutages: [
      { atMs: driveMs * 0.3, downMs: natsDownMs },
      { atMs: driveMs * 0.65, downMs: natsDownMs },
    ],
    brokerRestartsAtMs: [driveMs * 0.5],
  },
  settleTimeoutMs: 180_000,
  ...(values.dir === undefined ? {} : { dir: values.dir }),
  progress: (line) => process.stdout.write(`chaos: ${line}\n`),
});
process.stdout.write(`${report.table}\n`);
if (report.dir !== undefined) process.stdout.write(`stores and logs kept in ${report.dir}\n`);
process.exit(report.ok ? 0 : 1);
