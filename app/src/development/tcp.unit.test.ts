import { describe, expect, it } from 'vitest';
import { isLoopback, serverAddress } from './tcp.js';
import { unshared } from './embeddedMqttBroker.js';

describe('serverAddress', () => {
  it('takes the first of a comma-separated list, with the default port when none is given', () => {
    expect(serverAddress('nats://127.0.0.1:4333, nats://other:4222', 4222)).toEqual({ host: '127.0.0.1', port: 4333, shown: 'nats://127.0.0.1:4333' });
    expect(serverAddress('mqtt://localhost', 1883)).toEqual({ host: 'localhost', port: 1883, shown: 'mqtt://localhost:1883' });
  });

  it('never shows credentials, and unwraps IPv6 hosts', () => {
    expect(serverAddress('nats://user:secret@127.0.0.1:4222', 4222).shown).toBe('nats://127.0.0.1:4222');
    expect(serverAddress('mqtt://[::1]:1884', 1883)).toEqual({ host: '::1', port: 1884, shown: 'mqtt://[::1]:1884' });
  });
});

describe('isLoopback', () => {
  it('is true for loopback addresses only', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '10.0.0.5', 'nats.plant1.example', '::'].map(isLoopback)).toEqual([false, false, false, false]);
  });
});

describe('unshared', () => {
  it('turns $share/{group}/{filter} into the filter and leaves other filters alone', () => {
    expect(unshared('$share/mes-ingest/mes/+/+/telemetry')).toBe('mes/+/+/telemetry');
    expect(unshared('$share/g/#')).toBe('#');
    expect(unshared('mes/P1/+/telemetry')).toBe('mes/P1/+/telemetry');
    expect(unshared('$SYS/broker/uptime')).toBe('$SYS/broker/uptime');
    expect(unshared('$share/no-filter')).toBe('$share/no-filter');
  });
});
