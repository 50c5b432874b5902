// Event ids derived from what caused the events, so handling the same cause again appends events
// with the same ids, which the event store stores once (STYLE.md item 6).
import { createHash } from 'node:crypto';

/** A UUID-shaped id (RFC 4122 version 5 layout, SHA-256 based) for the `index`-th event caused by `cause`. */
export function derivedEventId(cause: string, index: number): string {
  const hash = createHash('sha256').update('mes.approvals.event-id\n').update(cause).update('\n').update(String(index)).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
