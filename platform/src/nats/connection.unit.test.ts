import { describe, expect, it } from 'vitest';
import { NatsUnreachableError } from './connection.js';

describe('NatsUnreachableError', () => {
  it('names the servers without the credentials NATS_URL carries', () => {
    const error = new NatsUnreachableError('nats://mes:TopSecret1@n1:4222,nats://mes:TopSecret2@n2:4222', new Error('connection refused'));
    expect(error.message).toContain('cannot reach any of the 2 NATS servers nats://***@n1:4222,nats://***@n2:4222 (NATS_URL): connection refused');
    expect(error.message).not.toMatch(/TopSecret/);
  });
});
