// PINs are stored only as scrypt hashes (CONTRACT §4) with a random salt per PIN. The cost is kept
// with each hash, so raising it for new PINs leaves old ones verifiable.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { PinHash } from '../../domain/approverPins.js';

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s per hash here (2 cores, loaded), on libuv's
 * thread pool, so the event loop never waits. A PIN has few possible values, so what protects it
 * is the lock after five wrong PINs and the access control of the bucket; the cost makes an
 * offline search of a copied bucket take hours per PIN instead of seconds.
 */
export const PIN_HASH_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Twice what scrypt needs at the highest cost in use: Node refuses anything above `maxmem`. */
const maxmemFor = (cost: { N: number; r: number }) => 2 * 128 * cost.N * cost.r;

function derive(pin: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: maxmemFor(cost) };
  return new Promise((resolve, reject) => {
    scrypt(pin.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPin(pin: string, cost: { N: number; r: number; p: number } = PIN_HASH_COST): Promise<PinHash> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(pin, salt, cost);
  return { algorithm: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** True when `pin` is the PIN of `stored`; compared in constant time. */
export async function pinMatches(pin: string, stored: PinHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await derive(pin, Buffer.from(stored.salt, 'base64'), stored);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
