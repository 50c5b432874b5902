// Ids derived from what they identify, so doing the same thing again names the same thing: a
// retried append carries the same event ids and is stored once (STYLE.md item 6). Pure.
import { createHash } from 'node:crypto';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The name-based UUID (RFC 4122 / RFC 9562 version 5: SHA-1 of the namespace's bytes and the
 * UTF-8 name) of `name` in `namespace`. Same arguments, same UUID, on every machine and build.
 */
export function uuidV5(name: string, namespace: string): string {
  const ns = namespace.toLowerCase();
  if (!CANONICAL_UUID.test(ns)) throw new Error(`UUID namespace "${namespace}" is not a UUID`);
  const bytes = createHash('sha1').update(Buffer.from(ns.replaceAll('-', ''), 'hex')).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Namespace of the event ids derived from their cause. Never change it: retries across deploys must derive the same ids. */
const DERIVED_EVENT_ID_NAMESPACE = '3d0c6a8e-5b1f-4e27-9c4a-7f2e8b6d1a90';

/** The id of the `index`-th event caused by `cause` (a command id, or an event id with what it led to). */
export function derivedEventId(cause: string, index: number): string {
  return uuidV5(`${cause}\n${index}`, DERIVED_EVENT_ID_NAMESPACE);
}
