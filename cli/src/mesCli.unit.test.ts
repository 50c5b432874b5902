import { hostname, userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { operatorOf } from './config/configCommands.js';
import { formatDeadLetter, formatProgress, parseCliArgs } from './mesCli.js';

describe('mes command line', () => {
  it('reads the audit commands, with or without --json', () => {
    expect(parseCliArgs(['audit', 'order', 'MO_1'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: false });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--json'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: true });
    expect(parseCliArgs(['audit', '--json', 'machine', 'M-1'])).toEqual({ kind: 'auditMachine', machineId: 'M-1', json: true });
  });

  it('reads an audit export format, for orders only, and not with --json', () => {
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--format', 'html'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: false, format: 'html' });
    expect(parseCliArgs(['audit', '--format', 'csv', 'order', 'MO_1'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: false, format: 'csv' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--format', 'jsonl'])).toEqual({ kind: 'auditOrder', orderId: 'MO_1', json: false, format: 'jsonl' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--format', 'pdf'])).toEqual({ kind: 'usage', error: '--format takes csv, jsonl, html (got "pdf")' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--format'])).toEqual({ kind: 'usage', error: '--format takes csv, jsonl, html' });
    expect(parseCliArgs(['audit', 'order', 'MO_1', '--format', 'csv', '--json'])).toMatchObject({ kind: 'usage', error: expect.stringMatching(/^--json and --format do not go together/) });
    expect(parseCliArgs(['audit', 'machine', 'M-1', '--format', 'csv'])).toEqual({ kind: 'usage', error: '--format is for mes audit order' });
  });

  it('reads the config commands', () => {
    expect(parseCliArgs(['config', 'reload'])).toEqual({ kind: 'configReload' });
    expect(parseCliArgs(['config', 'history'])).toEqual({ kind: 'configHistory', plantId: undefined, json: false });
    expect(parseCliArgs(['config', 'history', '--plant', 'P1', '--json'])).toEqual({ kind: 'configHistory', plantId: 'P1', json: true });
    expect(parseCliArgs(['config', 'apply'])).toEqual({ kind: 'usage', error: 'mes config takes reload or history (got "apply")' });
    expect(parseCliArgs(['config', 'reload', '--force'])).toEqual({ kind: 'usage', error: 'unknown option --force for mes config reload' });
    expect(parseCliArgs(['config', 'reload', 'plants.yaml'])).toEqual({ kind: 'usage', error: 'unexpected argument "plants.yaml"' });
  });

  it('names who runs it: MES_OPERATOR, else the OS user at this host', () => {
    expect(operatorOf({ MES_OPERATOR: ' quality@plant1.example ' })).toBe('quality@plant1.example');
    expect(operatorOf({})).toBe(`${userInfo().username}@${hostname()}`);
    expect(operatorOf({ MES_OPERATOR: '' })).toBe(`${userInfo().username}@${hostname()}`);
    expect(() => operatorOf({ MES_OPERATOR: 'x'.repeat(257) })).toThrow(/MES_OPERATOR is 257 characters long; at most 256/);
  });

  it('reads the verify command, for the whole log, a plant or an order', () => {
    expect(parseCliArgs(['audit', 'verify'])).toEqual({ kind: 'verify', plantId: undefined, orderId: undefined });
    expect(parseCliArgs(['audit', 'verify', '--plant', 'P1'])).toEqual({ kind: 'verify', plantId: 'P1', orderId: undefined });
    expect(parseCliArgs(['audit', 'verify', '--order', 'MO_1'])).toEqual({ kind: 'verify', plantId: undefined, orderId: 'MO_1' });
    expect(parseCliArgs(['audit', 'verify', '--plant'])).toEqual({ kind: 'usage', error: '--plant takes a plant id' });
    expect(parseCliArgs(['audit', 'verify', '--json'])).toEqual({ kind: 'usage', error: 'unknown option --json for mes audit verify' });
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
    expect(parseCliArgs(['audit', 'workflow', 'WF_1'])).toEqual({ kind: 'usage', error: 'mes audit takes order, machine or verify (got "workflow")' });
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

  it('reads the dead-letters command and its options', () => {
    expect(parseCliArgs(['dead-letters'])).toEqual({ kind: 'deadLetters', plantId: undefined, limit: 50, json: false });
    expect(parseCliArgs(['dead-letters', '--plant', 'P1', '--limit', '5', '--json'])).toEqual({ kind: 'deadLetters', plantId: 'P1', limit: 5, json: true });
    expect(parseCliArgs(['dead-letters', '--limit', '0'])).toEqual({ kind: 'usage', error: '--limit takes a whole number from 1 to 10000' });
    expect(parseCliArgs(['dead-letters', '--plant'])).toEqual({ kind: 'usage', error: '--plant takes a plant id' });
    expect(parseCliArgs(['dead-letters', 'P1'])).toEqual({ kind: 'usage', error: 'unexpected argument "P1"' });
    expect(parseCliArgs(['dead-letters', '--since'])).toEqual({ kind: 'usage', error: 'unknown option --since for mes dead-letters' });
  });

  it('shows a dead letter on one line: when, topic, reason, the start of the payload', () => {
    const letter = { sequence: 3, topic: 'mes/P1/M-1/telemetry', payload: '{not json', encoding: 'utf8' as const, truncated: false, payloadBytes: 9, reason: 'payload is not valid JSON', receivedAt: '2026-11-25T10:00:00.000Z', plantId: 'P1' };
    expect(formatDeadLetter(letter)).toBe('2026-11-25T10:00:00.000Z  mes/P1/M-1/telemetry  payload is not valid JSON  payload "{not json"');
    expect(formatDeadLetter({ ...letter, payload: 'AAEC', encoding: 'base64', payloadBytes: 70_000, truncated: true })).toBe(
      '2026-11-25T10:00:00.000Z  mes/P1/M-1/telemetry  payload is not valid JSON  payload (70000 bytes, not UTF-8) (first 64 KiB of 70000 bytes)',
    );
  });
});
