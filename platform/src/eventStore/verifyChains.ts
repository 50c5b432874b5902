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

type ChainedEvent = Parameters<typeof checkLink>[1] & { stream: string };

/** Checks events one by one, each against the chain so far of its stream; `checked` counts them, the breaking one included. */
function chainChecker(onChecked?: (checked: number) => void) {
  const cursors = new Map<string, ChainCursor>();
  const state = {
    checked: 0,
    get streams() {
      return cursors.size;
    },
    check(event: ChainedEvent): ChainBreak | undefined {
      let cursor = cursors.get(event.stream);
      if (cursor === undefined) {
        cursor = newCursor(event.stream);
        cursors.set(event.stream, cursor);
      }
      state.checked++;
      onChecked?.(state.checked);
      return checkLink(cursor, event);
    },
  };
  return state;
}

/**
 * The chains of streams already read whole, each's events in stream order (no reads: for a
 * history that was read anyway, e.g. an order's audit). The same result as `verifyChains` with
 * `streams` would give for those reads.
 */
export function verifyReadStreams(streams: Iterable<{ stream: string; events: Iterable<ChainedEvent> }>): ChainVerification {
  const checker = chainChecker();
  for (const { events } of streams) {
    for (const event of events) {
      const broken = checker.check(event);
      if (broken !== undefined) return { events: checker.checked, streams: checker.streams, broken };
    }
  }
  return { events: checker.checked, streams: checker.streams };
}

export async function verifyChains(store: EventStore, options: VerifyChainsOptions = {}): Promise<ChainVerification> {
  const every = options.progressEvery ?? 10_000;
  const checker = chainChecker((n) => {
    if (n % every === 0) options.onProgress?.(n);
  });
  if (options.streams !== undefined) {
    for (const stream of options.streams) {
      for (const event of (await store.readStream(stream)).events) {
        const broken = checker.check(event);
        if (broken !== undefined) return { events: checker.checked, streams: checker.streams, broken };
      }
    }
  } else {
    for await (const event of store.readAll(options.plantId === undefined ? {} : { plantId: options.plantId })) {
      const broken = checker.check(event);
      if (broken !== undefined) return { events: checker.checked, streams: checker.streams, broken };
    }
  }
  options.onProgress?.(checker.checked);
  return { events: checker.checked, streams: checker.streams };
}
