// Recomputes the hash chains of the event log (CONTRACT §5, `mes audit verify`): every stream's
// events in order, each against the one before it. Reads the log only, never the projections.
import type { EventStore, LogOptions } from './eventStore.js';
import { checkLink, newCursor, type ChainBreak, type ChainCursor } from './hashChain.js';

export interface ChainVerification {
  events: number;
  streams: number;
  /** The first place a chain breaks, in log order; undefined when every chain holds. */
  broken?: ChainBreak;
}

export interface VerifyChainsOptions extends LogOptions {
  /** Only these streams, each read whole (an order's streams); default: every stream of the log (of the plant). */
  streams?: readonly string[];
  /** Called now and then with the events checked so far. */
  onProgress?(checked: number): void;
  progressEvery?: number;
}

export async function verifyChains(store: EventStore, options: VerifyChainsOptions = {}): Promise<ChainVerification> {
  const every = options.progressEvery ?? 10_000;
  const cursors = new Map<string, ChainCursor>();
  let checked = 0;
  const check = (event: Parameters<typeof checkLink>[1] & { stream: string }): ChainBreak | undefined => {
    let cursor = cursors.get(event.stream);
    if (cursor === undefined) {
      cursor = newCursor(event.stream);
      cursors.set(event.stream, cursor);
    }
    checked++;
    if (checked % every === 0) options.onProgress?.(checked);
    return checkLink(cursor, event);
  };
  if (options.streams !== undefined) {
    for (const stream of options.streams) {
      for (const event of (await store.readStream(stream)).events) {
        const broken = check(event);
        if (broken !== undefined) return { events: checked, streams: cursors.size, broken };
      }
    }
  } else {
    for await (const event of store.readAll(options.plantId === undefined ? {} : { plantId: options.plantId })) {
      const broken = check(event);
      if (broken !== undefined) return { events: checked, streams: cursors.size, broken };
    }
  }
  options.onProgress?.(checked);
  return { events: checked, streams: cursors.size };
}
