// Load an aggregate's stream, decide, append with the revision that was read; on a conflict,
// reload and decide again, a bounded number of times (STYLE.md item 6). With an aggregate cache,
// the load is skipped for an aggregate this process handled last; see aggregateCache.ts for why
// that never decides on a stale state. A reload after a conflict reads only the events that
// followed the state decided on, so a retry costs what changed, not the stream's whole history.
import type { Actor } from '@mes/contracts';
import { randomUUID } from 'node:crypto';
import { stateAfter, stateFrom, type Decider, type DomainMessage } from '../domain/decider.js';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type RecordedEvent, type StreamRevision } from '../eventStore/eventStore.js';
import type { AggregateCache } from './aggregateCache.js';

export interface CommandContext {
  correlationId: string;
  /** The event or command that caused this one. */
  causationId: string | null;
  actor: Actor;
}

export interface CommandHandlerDeps {
  store: EventStore;
  now: () => Date;
  /** Event ids; deterministic ids make a repeated command's append a no-op. Default: random UUIDs. */
  eventId?: (index: number) => string;
}

export interface CommandResult<Event, State> {
  /**
   * Events this command appended (empty when the decider decided nothing); with `duplicate`, the
   * events that were found stored already under the same ids.
   */
  events: Event[];
  /** The events had been stored before (a resend whose first ack was lost, or a repeated command). */
  duplicate?: boolean;
  state: State;
  revision: StreamRevision | 'no_stream';
  attempts: number;
}

export class TooManyConflictsError extends Error {
  readonly code = 'TOO_MANY_CONFLICTS';
  constructor(readonly stream: string, readonly attempts: number) {
    super(`stream ${stream} kept changing under ${attempts} attempts to append; giving up on this command`);
    this.name = 'TooManyConflictsError';
  }
}

interface Known<State> {
  revision: StreamRevision | 'no_stream';
  state: State;
}

export interface HandleCommandOptions<State = unknown> {
  maxAttempts?: number;
  /** The last known states of this decider's aggregates (one cache per decider and process). */
  cache?: AggregateCache<State>;
  /**
   * The command almost always starts its aggregate (a new order, a new workflow): decide on the
   * initial state without reading the stream first. Treated like a cached state, so never trusted
   * blindly: the append expects no stream, and a stream that exists refuses it (then it is read and
   * the command decided again); a refusal or a decision of nothing is confirmed by a read. Saves a
   * round trip to the store per new aggregate.
   */
  startsStream?: boolean;
}

/** Handles one command against the aggregate in `stream`. Domain errors from `decide` propagate. */
export async function handleCommand<Command, Event extends DomainMessage, State>(
  deps: CommandHandlerDeps,
  decider: Decider<Command, Event, State>,
  stream: string,
  command: Command,
  context: CommandContext,
  options: HandleCommandOptions<State> = {},
): Promise<CommandResult<Event, State>> {
  const maxAttempts = options.maxAttempts ?? 10;
  const { cache } = options;
  let useCache = cache !== undefined || options.startsStream === true;
  /** The aggregate as caught up after a conflict or a stale cached state, for the next attempt to decide on. */
  let known: Known<State> | undefined;
  /** The events that followed `from`, applied to its state; a full read when there is no revision to start after. */
  const catchUp = async (from: Known<State>): Promise<Known<State> & { stored: RecordedEvent[] }> => {
    if (from.revision === 'no_stream') {
      const read = await deps.store.readStream(stream);
      return { revision: read.revision, state: stateFrom(decider, read.events), stored: read.events };
    }
    const read = await deps.store.readStream(stream, { after: from.revision });
    return { revision: read.revision, state: stateAfter(decider, from.state, read.events), stored: read.events };
  };
  for (let attempt = 1; ; attempt++) {
    const cached = known === undefined && useCache ? (cache?.get(stream) ?? (options.startsStream ? { revision: 'no_stream' as const, state: decider.initialState } : undefined)) : undefined;
    let revision: StreamRevision | 'no_stream';
    let state: State;
    if (known !== undefined) ({ revision, state } = known);
    else if (cached !== undefined) ({ revision, state } = cached);
    else {
      const read = await deps.store.readStream(stream);
      revision = read.revision;
      state = stateFrom(decider, read.events);
    }
    known = undefined;
    let decided: Event[];
    try {
      decided = decider.decide(command, state);
    } catch (err) {
      // A refusal must rest on the stream as it is, not as this process last saw it: read it whole.
      if (cached === undefined) throw err;
      useCache = false;
      continue;
    }
    if (decided.length === 0) {
      // Nothing appended, so nothing would refuse a stale state: confirm the cached revision, and
      // decide again on what another writer appended since, if anything.
      if (cached !== undefined) {
        const caught = await catchUp({ revision, state });
        if (caught.stored.length > 0) {
          cache?.forget(stream);
          useCache = false;
          known = caught;
          continue;
        }
      }
      if (revision !== 'no_stream') cache?.set(stream, { revision, state });
      return { events: [], state, revision, attempts: attempt };
    }
    const occurredAt = deps.now().toISOString();
    const newEvents: NewEvent[] = decided.map((event, index) => ({
      eventId: deps.eventId?.(index) ?? randomUUID(),
      type: event.type,
      version: event.version,
      occurredAt,
      correlationId: context.correlationId,
      causationId: context.causationId,
      actor: context.actor,
      data: event.data,
    }));
    try {
      const appended = await deps.store.appendToStream(stream, newEvents, { expectedRevision: revision });
      if (appended.duplicate) {
        // These event ids were stored before: by this append's own first send (its ack was lost),
        // or by an earlier handling of the same command. They are in the stream either way, but
        // what the aggregate is now (later events may follow them) only the stream can say.
        cache?.forget(stream);
        const read = await deps.store.readStream(stream);
        return { events: decided, state: stateFrom(decider, read.events), revision: read.revision, attempts: attempt, duplicate: true };
      }
      const next = decided.reduce(decider.evolve, state);
      cache?.set(stream, { revision: appended.nextRevision, state: next });
      return { events: decided, state: next, revision: appended.nextRevision, attempts: attempt };
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError)) throw err;
      cache?.forget(stream);
      useCache = false;
      // What the stream holds beyond the revision decided on, applied to the state decided on: the
      // stream as it is, without reading it all again. A send whose ack was lost and was sent again
      // can be refused for the revision its own first send moved on (JetStream may check the
      // expected revision before the duplicate id): when what followed holds these very events,
      // they were appended, and their effects are still due.
      const caught = await catchUp({ revision, state });
      const ids = new Set(newEvents.map((event) => event.eventId));
      if (caught.stored.some((event) => ids.has(event.eventId))) {
        return { events: decided, state: caught.state, revision: caught.revision, attempts: attempt, duplicate: true };
      }
      known = caught;
      if (attempt >= maxAttempts) throw new TooManyConflictsError(stream, attempt);
      // Spread the retries of writers that collided so they do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)));
    }
  }
}
