// The shape of every aggregate and of the workflow saga: pure functions, no clock, no I/O.
// Domain files import this module alone (`@mes/platform/decider`), not the platform's barrel.
import { parseDomainEvent, type DomainEvent, type DomainEventOfType, type DomainEventType } from '@mes/contracts';

/** A domain event as the decider sees it: its type, schema version and data, without envelope. */
export interface DomainMessage<Type extends string = string, Data = unknown> {
  type: Type;
  version: number;
  data: Data;
}

/** An event as stored (any version), before it is read as the decider's own. */
export interface StoredMessage {
  type: string;
  version: number;
  data: unknown;
  /** Named in errors when present. */
  stream?: string;
}

export interface Decider<Command, Event, State> {
  readonly initialState: State;
  /** The events a command produces in a state; throws a coded error when the command is refused. */
  decide(command: Command, state: State): Event[];
  /** The state after an event; never mutates `state`. */
  evolve(state: State, event: Event): State;
  /**
   * One stored event of the aggregate's stream as the decider's event: validated and upcast to the
   * current version once, where it leaves the store. Throws for an event the aggregate does not know.
   */
  decode(stored: StoredMessage): Event;
}

export function foldEvents<Event, State>(decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>, events: readonly Event[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState);
}

/** The state of an aggregate from its stored events, each read through the decider's `decode`. */
export function stateFrom<Event, State>(decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve' | 'decode'>, stored: readonly StoredMessage[]): State {
  return foldEvents(decider, stored.map((event) => decider.decode(event)));
}

/** The state after `stored`, the events that followed `state` (a catch-up read from its revision on). */
export function stateAfter<Event, State>(decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'decode'>, state: State, stored: readonly StoredMessage[]): State {
  return stored.reduce((current, event) => decider.evolve(current, decider.decode(event)), state);
}

/** A stored event whose type belongs to another aggregate: a stream that holds it is not this aggregate's. */
export class ForeignEventError extends Error {
  readonly code = 'FOREIGN_EVENT';
  constructor(type: string, stream: string | undefined, expected: readonly string[]) {
    super(`${stream === undefined ? 'a stream' : `stream ${stream}`} holds a ${type} event; its aggregate reads only ${expected.join(', ')}`);
    this.name = 'ForeignEventError';
  }
}

function isOfType<const Types extends readonly DomainEventType[]>(event: DomainEvent, types: Types): event is DomainEventOfType<Types[number]> {
  return (types as readonly string[]).includes(event.type);
}

/**
 * A `decode` for an aggregate whose events are contract events of `types`: each stored event is
 * parsed (and upcast) by the contracts' `parseDomainEvent`, then checked to be one of them.
 */
export function domainEventDecoder<const Types extends readonly DomainEventType[]>(...types: Types): (stored: StoredMessage) => DomainEventOfType<Types[number]> {
  return (stored) => {
    const event = parseDomainEvent(stored.type, stored.version, stored.data);
    if (!isOfType(event, types)) throw new ForeignEventError(stored.type, stored.stream, types);
    return event;
  };
}

/** A refusal by the domain: `code` is stable and machine-readable, the message is for people. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export { derivedEventId, uuidV5 } from './deterministicId.js';
