// The shape of every aggregate and of the workflow saga: pure functions, no clock, no I/O.

/** A domain event as the decider sees it: its type, schema version and data, without envelope. */
export interface DomainMessage<Type extends string = string, Data = unknown> {
  type: Type;
  version: number;
  data: Data;
}

export interface Decider<Command, Event, State> {
  readonly initialState: State;
  /** The events a command produces in a state; throws a coded error when the command is refused. */
  decide(command: Command, state: State): Event[];
  /** The state after an event; never mutates `state`. */
  evolve(state: State, event: Event): State;
}

export function foldEvents<Event, State>(decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>, events: readonly Event[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState);
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
