// Load an aggregate's stream, decide, append with the revision that was read; on a conflict,
// reload and decide again, a bounded number of times (STYLE.md item 6).
import type { Actor } from '@mes/contracts';
import { randomUUID } from 'node:crypto';
import { stateFrom, type Decider, type DomainMessage } from '../domain/decider.js';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type StreamRevision } from '../eventStore/eventStore.js';

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
  /** Events this command appended (empty when the decider decided nothing). */
  events: Event[];
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

export interface HandleCommandOptions {
  maxAttempts?: number;
}

/** Handles one command against the aggregate in `stream`. Domain errors from `decide` propagate. */
export async function handleCommand<Command, Event extends DomainMessage, State>(
  deps: CommandHandlerDeps,
  decider: Decider<Command, Event, State>,
  stream: string,
  command: Command,
  context: CommandContext,
  options: HandleCommandOptions = {},
): Promise<CommandResult<Event, State>> {
  const maxAttempts = options.maxAttempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    const { revision, events: recorded } = await deps.store.readStream(stream);
    const state = stateFrom(decider, recorded);
    const decided = decider.decide(command, state);
    if (decided.length === 0) return { events: [], state, revision, attempts: attempt };
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
      return { events: decided, state: decided.reduce(decider.evolve, state), revision: appended.nextRevision, attempts: attempt };
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError)) throw err;
      if (attempt >= maxAttempts) throw new TooManyConflictsError(stream, attempt);
      // Spread the retries of writers that collided so they do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)));
    }
  }
}
