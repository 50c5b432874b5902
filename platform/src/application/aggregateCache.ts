// The last known state of recently handled aggregates, so handling a command does not read the
// whole stream again when this process wrote its last event. Never trusted blindly: a decision
// made on a cached state is appended at the cached revision, so a stream another copy changed
// meanwhile refuses it and the handler reads the stream after all; a decision of nothing (which
// appends nothing, so nothing would refuse it) is confirmed against the stream's revision first.
import type { StreamRevision } from '../eventStore/eventStore.js';

export interface CachedAggregate<State> {
  revision: StreamRevision;
  state: State;
}

/** Bounded: the least recently used aggregate is forgotten first. */
export class AggregateCache<State> {
  private readonly entries = new Map<string, CachedAggregate<State>>();

  constructor(private readonly capacity = 10_000) {}

  get(stream: string): CachedAggregate<State> | undefined {
    const entry = this.entries.get(stream);
    if (entry === undefined) return undefined;
    // Map order is recency: move it to the end.
    this.entries.delete(stream);
    this.entries.set(stream, entry);
    return entry;
  }

  set(stream: string, entry: CachedAggregate<State>): void {
    this.entries.delete(stream);
    this.entries.set(stream, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  forget(stream: string): void {
    this.entries.delete(stream);
  }

  get size(): number {
    return this.entries.size;
  }
}
