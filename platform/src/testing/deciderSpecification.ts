// Given / when / then for deciders (STYLE.md item 4): given past events, when a command,
// then these events, or this error.
import { expect } from 'vitest';
import { foldEvents, type Decider } from '../domain/decider.js';

export interface DeciderThen<Event> {
  /** The command produces exactly these events, in this order. */
  then(expected: Event[]): void;
  /** The command is refused: `expected` is an error code (matched against `error.code`), a class, or a message pattern. */
  thenThrows(expected: string | RegExp | (new (...args: never[]) => Error)): void;
}

export interface DeciderWhen<Command, Event> {
  when(command: Command): DeciderThen<Event>;
}

export interface DeciderSpecification<Command, Event> {
  given(events: Event[]): DeciderWhen<Command, Event>;
}

export function deciderSpecification<Command, Event, State>(decider: Decider<Command, Event, State>): DeciderSpecification<Command, Event> {
  return {
    given: (past) => ({
      when: (command) => {
        const run = () => decider.decide(command, foldEvents(decider, past));
        return {
          then: (expected) => {
            expect(run()).toEqual(expected);
          },
          thenThrows: (expected) => {
            let thrown: unknown;
            let produced: Event[] | undefined;
            try {
              produced = run();
            } catch (err) {
              thrown = err;
            }
            if (thrown === undefined) {
              throw new Error(`expected the command to be refused, but it produced ${JSON.stringify(produced)}`);
            }
            if (typeof expected === 'string') {
              expect((thrown as { code?: unknown }).code, `error code of ${String(thrown)}`).toBe(expected);
            } else if (expected instanceof RegExp) {
              expect(String((thrown as Error).message)).toMatch(expected);
            } else {
              expect(thrown).toBeInstanceOf(expected);
            }
          },
        };
      },
    }),
  };
}
