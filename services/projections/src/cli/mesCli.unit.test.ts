import { describe, expect, it } from 'vitest';
import { formatProgress, parseCliArgs } from './mesCli.js';

describe('mes command line', () => {
  it('reads the audit commands, with or without --json', () => {
    expect(parseCliArgs(['audit', 'order', 'MO_1'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: false });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--json'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: true });
    expect(parseCliArgs(['audit', '--json', 'machine', 'M-1'])).toEqual({ kind: 'auditMachine', machineId: 'M-1', json: true });
  });

  it('reads the rebuild command and its batch size', () => {
    expect(parseCliArgs(['projections', 'rebuild'])).toEqual({ kind: 'rebuild', batchSize: undefined });
    expect(parseCliArgs(['projections', 'rebuild', '--batch-size', '250'])).toEqual({ kind: 'rebuild', batchSize: 250 });
  });

  it('answers help', () => {
    expect(parseCliArgs(['help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['audit', '--help'])).toEqual({ kind: 'help' });
  });

  it('names what is wrong with a usage error', () => {
    expect(parseCliArgs([])).toEqual({ kind: 'usage', error: 'no command given' });
    expect(parseCliArgs(['audit', 'order'])).toEqual({ kind: 'usage', error: 'mes audit order needs the OrderID' });
    expect(parseCliArgs(['audit', 'workflow', 'WF_1'])).toEqual({ kind: 'usage', error: 'mes audit takes order or machine (got "workflow")' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', 'extra'])).toEqual({ kind: 'usage', error: 'unexpected argument "extra"' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--csv'])).toEqual({ kind: 'usage', error: 'unknown option --csv for mes audit' });
    expect(parseCliArgs(['projections', 'drop'])).toEqual({ kind: 'usage', error: 'mes projections takes rebuild (got "drop")' });
    expect(parseCliArgs(['projections', 'rebuild', '--batch-size', '0'])).toEqual({ kind: 'usage', error: '--batch-size takes a whole number from 1 to 100000' });
    expect(parseCliArgs(['orders'])).toEqual({ kind: 'usage', error: 'unknown command "orders"' });
  });

  it('shows rebuild progress with the count, rate and position', () => {
    expect(formatProgress({ phase: 'copying', source: 'events', applied: 12345, rate: 45678, position: 100n, end: 200n, elapsedMs: 1500 })).toBe(
      'rebuild: copying events: 12,345 applied (45,678/s), position 100 of 200, 1.5 s',
    );
    expect(formatProgress({ phase: 'done', source: 'telemetry', applied: 0, rate: 0, position: undefined, end: undefined, elapsedMs: 10 })).toBe(
      'rebuild: done readings: 0 applied (0/s), position none yet, 0.0 s',
    );
  });
});
