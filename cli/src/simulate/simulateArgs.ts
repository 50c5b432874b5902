// The options of `mes simulate` (CONTRACT §5), read from the command line with a usage error that
// names the option, what it takes and what it got.
import { parseIsoDuration } from '@mes/contracts';

export interface SimulateArgs {
  /** Unset: the first plant of MES_CONFIG. */
  plantId: string | undefined;
  /** Unset: the plant's `machines:` list, or 5. */
  machines: number | undefined;
  readingsPerSecond: number;
  faultsPerMinute: number;
  durationMs: number;
  /** As given, for the banner (`PT1M`). */
  duration: string;
  /** Unset: a fresh one per run (printed, so a run can be repeated). */
  seed: number | undefined;
}

export const SIMULATE_DEFAULTS = { readingsPerSecond: 2, faultsPerMinute: 1, duration: 'PT1M' } as const;

export const SIMULATE_USAGE = `  mes simulate [--plant P1] [--machines N] [--rate R/s] [--faults F/min] [--duration PT1M] [--seed N]
                                          publish realistic readings for a plant's machines to MQTT_URL`;

const MAX_MACHINES = 1000;
const MAX_READINGS_PER_SECOND = 5000;
const PLANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `2`, `2/s`, `120/min`, `7200/h` as a count per `unit`; undefined when it is none of these. */
function ratePer(text: string, unit: 's' | 'min'): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|min|h))?$/.exec(text);
  if (match === null) return undefined;
  const perSecond = { s: 1, min: 1 / 60, h: 1 / 3600 }[(match[2] ?? unit) as 's' | 'min' | 'h'];
  return Number(match[1]) * perSecond * (unit === 's' ? 1 : 60);
}

export type SimulateParse = { kind: 'simulate'; args: SimulateArgs } | { kind: 'help' } | { kind: 'usage'; error: string };

/** Reads the arguments after `simulate`. */
export function parseSimulateArgs(argv: readonly string[]): SimulateParse {
  const args: SimulateArgs = {
    plantId: undefined,
    machines: undefined,
    readingsPerSecond: SIMULATE_DEFAULTS.readingsPerSecond,
    faultsPerMinute: SIMULATE_DEFAULTS.faultsPerMinute,
    durationMs: parseIsoDuration(SIMULATE_DEFAULTS.duration),
    duration: SIMULATE_DEFAULTS.duration,
    seed: undefined,
  };
  const usage = (error: string): SimulateParse => ({ kind: 'usage', error });
  for (let i = 0; i < argv.length; i++) {
    const option = argv[i]!;
    if (option === '--help' || option === '-h') return { kind: 'help' };
    if (!option.startsWith('-')) return usage(`unexpected argument "${option}" for mes simulate`);
    if (!['--plant', '--machines', '--rate', '--faults', '--duration', '--seed'].includes(option)) return usage(`unknown option ${option} for mes simulate`);
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) return usage(`${option} needs a value`);
    switch (option) {
      case '--plant':
        if (!PLANT_ID.test(value)) return usage(`--plant takes a plant id of 1 to 64 characters A-Z a-z 0-9 _ - (got "${value}")`);
        args.plantId = value;
        break;
      case '--machines':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_MACHINES) return usage(`--machines takes a whole number from 1 to ${MAX_MACHINES} (got "${value}")`);
        args.machines = Number(value);
        break;
      case '--rate': {
        const rate = ratePer(value, 's');
        if (rate === undefined || rate <= 0 || rate > MAX_READINGS_PER_SECOND) {
          return usage(`--rate takes readings per second above 0 and at most ${MAX_READINGS_PER_SECOND}, e.g. 2 or 2/s or 30/min (got "${value}")`);
        }
        args.readingsPerSecond = rate;
        break;
      }
      case '--faults': {
        const faults = ratePer(value, 'min');
        if (faults === undefined) return usage(`--faults takes faults per minute across the plant, e.g. 1 or 1/min or 0.5/min or 20/h (got "${value}")`);
        args.faultsPerMinute = faults;
        break;
      }
      case '--duration':
        try {
          args.durationMs = parseIsoDuration(value);
        } catch (err) {
          return usage(`--duration: ${(err as Error).message}`);
        }
        args.duration = value;
        break;
      case '--seed':
        if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) return usage(`--seed takes a whole number from 0 to 4294967295 (got "${value}")`);
        args.seed = Number(value);
        break;
    }
  }
  // A fault takes a reading to report, so there cannot be more faults than readings.
  if (args.faultsPerMinute > args.readingsPerSecond * 60) {
    return usage(`--faults ${args.faultsPerMinute}/min is more than the ${args.readingsPerSecond * 60} readings a minute of --rate ${args.readingsPerSecond}/s`);
  }
  return { kind: 'simulate', args };
}
