import { describe, expect, it } from 'vitest';
import { DomainError, type Decider } from '../domain/decider.js';
import { deciderSpecification } from './deciderSpecification.js';

type DoorCommand = { type: 'Open' } | { type: 'Close' } | { type: 'Lock'; by: string };
type DoorEvent = { type: 'Opened' } | { type: 'Closed' } | { type: 'Locked'; by: string };
type DoorState = { status: 'open' | 'closed' | 'locked' };

class DoorLockedError extends Error {}

const door: Decider<DoorCommand, DoorEvent, DoorState> = {
  initialState: { status: 'closed' },
  decide(command, state) {
    switch (command.type) {
      case 'Open':
        if (state.status === 'locked') throw new DoorLockedError('the door is locked');
        return state.status === 'open' ? [] : [{ type: 'Opened' }];
      case 'Close':
        return state.status === 'open' ? [{ type: 'Closed' }] : [];
      case 'Lock':
        if (state.status === 'open') throw new DomainError('DOOR_OPEN', 'close the door before locking it');
        return [{ type: 'Locked', by: command.by }];
      default: {
        const _exhaustive: never = command;
        return _exhaustive;
      }
    }
  },
  evolve(_state, event) {
    switch (event.type) {
      case 'Opened':
        return { status: 'open' };
      case 'Closed':
        return { status: 'closed' };
      case 'Locked':
        return { status: 'locked' };
    }
  },
  decode(stored) {
    if (stored.type === 'Opened' || stored.type === 'Closed') return { type: stored.type };
    const by = (stored.data as { by?: unknown } | null)?.by;
    if (stored.type === 'Locked' && typeof by === 'string') return { type: 'Locked', by };
    throw new Error(`not a door event: ${stored.type}`);
  },
};

const spec = deciderSpecification(door);

describe('deciderSpecification', () => {
  describe('when the expected events are produced', () => {
    it('passes for a command on the initial state', () => {
      spec.given([]).when({ type: 'Open' }).then([{ type: 'Opened' }]);
    });

    it('folds the given events before deciding', () => {
      spec.given([{ type: 'Opened' }]).when({ type: 'Close' }).then([{ type: 'Closed' }]);
      spec.given([{ type: 'Opened' }, { type: 'Closed' }]).when({ type: 'Lock', by: 'ana' }).then([{ type: 'Locked', by: 'ana' }]);
    });

    it('passes for a command that decides nothing', () => {
      spec.given([{ type: 'Opened' }]).when({ type: 'Open' }).then([]);
    });
  });

  describe('when the produced events differ', () => {
    it('fails naming the difference', () => {
      expect(() => spec.given([]).when({ type: 'Open' }).then([{ type: 'Closed' }])).toThrow(/Closed/);
    });

    it('fails when the command is refused instead', () => {
      expect(() => spec.given([{ type: 'Locked', by: 'ana' }]).when({ type: 'Open' }).then([{ type: 'Opened' }])).toThrow('the door is locked');
    });
  });

  describe('when a refusal is expected', () => {
    it('matches an error code', () => {
      spec.given([{ type: 'Opened' }]).when({ type: 'Lock', by: 'ana' }).thenThrows('DOOR_OPEN');
    });

    it('matches an error class', () => {
      spec.given([{ type: 'Locked', by: 'ana' }]).when({ type: 'Open' }).thenThrows(DoorLockedError);
    });

    it('matches a message pattern', () => {
      spec.given([{ type: 'Opened' }]).when({ type: 'Lock', by: 'ana' }).thenThrows(/close the door/);
    });

    it('fails when the command is accepted', () => {
      expect(() => spec.given([]).when({ type: 'Open' }).thenThrows('DOOR_OPEN')).toThrow(/expected the command to be refused, but it produced \[\{"type":"Opened"\}\]/);
    });

    it('fails when another code is thrown', () => {
      expect(() => spec.given([{ type: 'Opened' }]).when({ type: 'Lock', by: 'ana' }).thenThrows('DOOR_LOCKED')).toThrow(/DOOR_OPEN/);
    });

    it('fails when another class is thrown', () => {
      expect(() => spec.given([{ type: 'Opened' }]).when({ type: 'Lock', by: 'ana' }).thenThrows(DoorLockedError)).toThrow();
    });
  });
});
