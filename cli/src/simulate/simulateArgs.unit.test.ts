import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, runCli } from '../mesCli.js';
import { parseSimulateArgs } from './simulateArgs.js';

const defaults = { plantId: undefined, machines: undefined, readingsPerSecond: 2, faultsPerMinute: 1, durationMs: 60_000, duration: 'PT1M', seed: undefined };

describe('mes simulate options', () => {
  it('has defaults: the first plant, its machines or 5, 2 readings a second, 1 fault a minute, one minute', () => {
    expect(parseCliArgs(['simulate'])).toEqual({ kind: 'simulate', args: defaults });
  });

  it('reads every option', () => {
    expect(parseCliArgs(['simulate', '--plant', 'P2', '--machines', '12', '--rate', '20/s', '--faults', '3/min', '--duration', 'PT5M', '--seed', '7'])).toEqual({
      kind: 'simulate',
      args: { plantId: 'P2', machines: 12, readingsPerSecond: 20, faultsPerMinute: 3, durationMs: 300_000, duration: 'PT5M', seed: 7 },
    });
  });

  it('takes rates as bare numbers or with a unit', () => {
    const rate = (text: string) => (parseSimulateArgs(['--rate', text]) as { args: { readingsPerSecond: number } }).args.readingsPerSecond;
    const faults = (text: string) => (parseSimulateArgs(['--faults', text]) as { args: { faultsPerMinute: number } }).args.faultsPerMinute;
    expect([rate('2'), rate('0.5/s'), rate('30/min'), rate('7200/h')]).toEqual([2, 0.5, 0.5, 2]);
    expect([faults('1'), faults('0'), faults('0.5/min'), faults('30/h'), faults('1/s')]).toEqual([1, 0, 0.5, 0.5, 60]);
  });

  it('answers help', () => {
    expect(parseCliArgs(['simulate', '--help'])).toEqual({ kind: 'help' });
  });

  it('names the option, what it takes and what it got', () => {
    expect(parseSimulateArgs(['--rate', '0'])).toEqual({ kind: 'usage', error: '--rate takes readings per second above 0 and at most 5000, e.g. 2 or 2/s or 30/min (got "0")' });
    expect(parseSimulateArgs(['--rate', 'fast'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--rate takes .*\(got "fast"\)$/) });
    expect(parseSimulateArgs(['--faults', '-1'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--faults takes faults per minute .*\(got "-1"\)$/) });
    expect(parseSimulateArgs(['--faults', 'often'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--faults takes faults per minute .*\(got "often"\)$/) });
    expect(parseSimulateArgs(['--machines', '0'])).toEqual({ kind: 'usage', error: '--machines takes a whole number from 1 to 1000 (got "0")' });
    expect(parseSimulateArgs(['--plant', 'P/1'])).toEqual({ kind: 'usage', error: '--plant takes a plant id of 1 to 64 characters A-Z a-z 0-9 _ - (got "P/1")' });
    expect(parseSimulateArgs(['--duration', '5m'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--duration: duration "5m" must be an ISO-8601 duration/) });
    expect(parseSimulateArgs(['--duration', 'P1M'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--duration: duration "P1M" must not use years or months.*PT1M/) });
    expect(parseSimulateArgs(['--seed', '-3'])).toEqual({ kind: 'usage', error: '--seed takes a whole number from 0 to 4294967295 (got "-3")' });
    expect(parseSimulateArgs(['--seed', '--rate', '2'])).toEqual({ kind: 'usage', error: '--seed needs a value' });
    expect(parseSimulateArgs(['--seed', '4294967296'])).toEqual({ kind: 'usage', error: '--seed takes a whole number from 0 to 4294967295 (got "4294967296")' });
    expect(parseSimulateArgs(['--rate'])).toEqual({ kind: 'usage', error: '--rate needs a value' });
    expect(parseSimulateArgs(['--speed', '3'])).toEqual({ kind: 'usage', error: 'unknown option --speed for mes simulate' });
    expect(parseSimulateArgs(['P1'])).toEqual({ kind: 'usage', error: 'unexpected argument "P1" for mes simulate' });
    expect(parseSimulateArgs(['--rate', '1', '--faults', '61'])).toEqual({ kind: 'usage', error: '--faults 61/min is more than the 60 readings a minute of --rate 1/s' });
  });

  it('exits with 2 and the usage on a bad option, before touching any broker', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let printed = '';
    stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    expect(await runCli(['simulate', '--machines', 'many'], { stdout, stderr, env: { MQTT_URL: 'mqtt://127.0.0.1:1' } })).toBe(2);
    expect(printed).toMatch(/^mes: --machines takes a whole number from 1 to 1000 \(got "many"\)\n\nUsage:/);
    expect(printed).toContain('mes simulate [--plant P1]');
  });
});
