// The edge simulator's model of a plant (`mes simulate`, CONTRACT §5): each machine has a state that
// drifts, and each step yields the next reading of one machine as CONTRACT §1 describes it. Pure:
// the clock comes in with each step and the random numbers from a seeded generator kept in the
// state, so one seed always gives the same readings (tests, and a run someone wants to repeat).
// One file on purpose (a little over 300 lines): the whole machine model together.
import type { QualityTrend } from '@mes/contracts';

export interface SimulationSettings {
  plantId: string;
  machineIds: readonly string[];
  /** Readings per second for the whole plant; machines take turns. */
  readingsPerSecond: number;
  /** Faults per minute across the plant, on average (0: none). */
  faultsPerMinute: number;
  /** Prefix of every messageId, unique per run so that a second run is not deduplicated away. */
  runId: string;
  seed: number;
}

/** The statuses a simulated machine goes through: a fault is followed by maintenance, then work. */
export type SimulatedStatus = 'Running' | 'Fault' | 'Maintenance';

export interface SimulatedMachine {
  machineId: string;
  status: SimulatedStatus;
  qualityTrend: QualityTrend;
  productionTarget: number;
  /** The machine's own readings left in its fault or maintenance phase (0 while running). */
  phaseReadingsLeft: number;
  /** An output dip in progress: the ratio of target it produces, and for how many more readings. */
  dip: { ratio: number; readingsLeft: number } | undefined;
  readings: number;
}

export interface SimulationTally {
  readings: number;
  faults: number;
  recoveries: number;
  qualityDeclines: number;
  outputDips: number;
}

export interface PlantSimulation {
  settings: SimulationSettings;
  machines: readonly SimulatedMachine[];
  /** Index of the machine whose reading comes next. */
  turn: number;
  /** The plant's reading (count) at which the next fault happens; undefined with no faults. */
  nextFaultAt: number | undefined;
  randomState: number;
  tally: SimulationTally;
}

export interface SimulatedReading {
  plantId: string;
  machineId: string;
  topic: string;
  payload: {
    machineStatus: SimulatedStatus;
    qualityTrend: QualityTrend;
    productionTarget: number;
    productionActual: number;
    timestamp: string;
    messageId: string;
    plantId: string;
    machineId: string;
  };
}

/** Something a person watching the simulator wants to see. */
export type MachineChange =
  | { kind: 'fault'; machineId: string }
  | { kind: 'maintenance'; machineId: string }
  | { kind: 'recovered'; machineId: string }
  | { kind: 'quality'; machineId: string; qualityTrend: QualityTrend }
  | { kind: 'outputDip'; machineId: string; ratio: number }
  | { kind: 'outputRecovered'; machineId: string };

export interface SimulationStep {
  simulation: PlantSimulation;
  reading: SimulatedReading;
  changes: MachineChange[];
}

// Per reading of a running machine. Quality moves away from Stable now and then and comes back
// after a dozen readings; output dips below 80% of target about once in 125 readings. At the
// defaults (2 readings/s, 5 machines) that is about one decline and one dip a minute in the plant.
const QUALITY_DRIFT: Record<QualityTrend, readonly { to: QualityTrend; probability: number }[]> = {
  Stable: [
    { to: 'Declining', probability: 0.008 },
    { to: 'Improving', probability: 0.02 },
  ],
  Declining: [{ to: 'Stable', probability: 0.08 }],
  Improving: [{ to: 'Stable', probability: 0.08 }],
};
const DIP_PROBABILITY = 0.008;
/** Readings a fault lasts, then maintenance, inclusive ranges (of that machine's own readings). */
const FAULT_READINGS = [3, 6] as const;
const MAINTENANCE_READINGS = [4, 8] as const;
const DIP_READINGS = [2, 6] as const;

/** A small seeded generator (mulberry32): its whole state is one 32-bit number. */
function diceFrom(state: number) {
  let current = state >>> 0;
  return {
    next(): number {
      current = (current + 0x6d2b79f5) >>> 0;
      let t = current;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    between(low: number, high: number): number {
      return low + (high - low) * this.next();
    },
    wholeBetween(range: readonly [number, number]): number {
      return range[0] + Math.floor(this.next() * (range[1] - range[0] + 1));
    },
    state: () => current,
  };
}
type Dice = ReturnType<typeof diceFrom>;

/** Average readings between two faults of the plant. */
function meanReadingsPerFault(settings: SimulationSettings): number {
  return (60 * settings.readingsPerSecond) / settings.faultsPerMinute;
}

/**
 * Faults come at the given rate on average, each gap between half and one and a half times the
 * mean, and the first one early (within the first half of a mean gap): someone trying the system
 * sees a fault within the first minute at the default rate, not only on a lucky run.
 */
function firstFaultAt(settings: SimulationSettings, dice: Dice): number | undefined {
  if (settings.faultsPerMinute <= 0) return undefined;
  return Math.max(1, Math.round(meanReadingsPerFault(settings) * dice.between(0.1, 0.5)));
}

function nextFaultAfter(reading: number, settings: SimulationSettings, dice: Dice): number {
  return reading + Math.max(1, Math.round(meanReadingsPerFault(settings) * dice.between(0.5, 1.5)));
}

export function startSimulation(settings: SimulationSettings): PlantSimulation {
  if (settings.machineIds.length === 0) throw new Error(`plant ${settings.plantId}: the simulation needs at least one machine`);
  if (!(settings.readingsPerSecond > 0)) throw new Error(`the reading rate must be above 0 (got ${settings.readingsPerSecond})`);
  const dice = diceFrom(settings.seed);
  const machines = settings.machineIds.map(
    (machineId): SimulatedMachine => ({
      machineId,
      status: 'Running',
      qualityTrend: 'Stable',
      // Planned output per period: 80 to 160 in steps of 10, so machines differ.
      productionTarget: 80 + 10 * dice.wholeBetween([0, 8]),
      phaseReadingsLeft: 0,
      dip: undefined,
      readings: 0,
    }),
  );
  const nextFaultAt = firstFaultAt(settings, dice);
  return {
    settings,
    machines,
    turn: 0,
    nextFaultAt,
    randomState: dice.state(),
    tally: { readings: 0, faults: 0, recoveries: 0, qualityDeclines: 0, outputDips: 0 },
  };
}

/** Output as a share of target for the machine's state: near target, lower while quality declines. */
function outputRatio(machine: SimulatedMachine, dice: Dice): number {
  switch (machine.status) {
    case 'Fault':
      return dice.between(0, 0.2);
    case 'Maintenance':
      return 0;
    case 'Running':
      if (machine.dip !== undefined) return machine.dip.ratio;
      return machine.qualityTrend === 'Declining' ? dice.between(0.9, 0.98) : dice.between(0.92, 1.04);
    default: {
      const _exhaustive: never = machine.status;
      return _exhaustive;
    }
  }
}

/** The machine's state at its next reading, and what changed. */
function evolveMachine(machine: SimulatedMachine, faultNow: boolean, dice: Dice): { machine: SimulatedMachine; changes: MachineChange[] } {
  const { machineId } = machine;
  switch (machine.status) {
    case 'Fault': {
      if (machine.phaseReadingsLeft > 1) return { machine: { ...machine, phaseReadingsLeft: machine.phaseReadingsLeft - 1 }, changes: [] };
      return { machine: { ...machine, status: 'Maintenance', phaseReadingsLeft: dice.wholeBetween(MAINTENANCE_READINGS) }, changes: [{ kind: 'maintenance', machineId }] };
    }
    case 'Maintenance': {
      if (machine.phaseReadingsLeft > 1) return { machine: { ...machine, phaseReadingsLeft: machine.phaseReadingsLeft - 1 }, changes: [] };
      // Maintenance leaves the machine as good as new: quality stable, output on target.
      const changes: MachineChange[] = [{ kind: 'recovered', machineId }];
      if (machine.qualityTrend !== 'Stable') changes.push({ kind: 'quality', machineId, qualityTrend: 'Stable' });
      return { machine: { ...machine, status: 'Running', qualityTrend: 'Stable', phaseReadingsLeft: 0, dip: undefined }, changes };
    }
    case 'Running': {
      if (faultNow) {
        return { machine: { ...machine, status: 'Fault', phaseReadingsLeft: dice.wholeBetween(FAULT_READINGS), dip: undefined }, changes: [{ kind: 'fault', machineId }] };
      }
      const changes: MachineChange[] = [];
      let qualityTrend = machine.qualityTrend;
      let roll = dice.next();
      for (const drift of QUALITY_DRIFT[qualityTrend]) {
        if (roll < drift.probability) {
          qualityTrend = drift.to;
          changes.push({ kind: 'quality', machineId, qualityTrend });
          break;
        }
        roll -= drift.probability;
      }
      let dip = machine.dip;
      if (dip !== undefined) {
        dip = dip.readingsLeft > 1 ? { ...dip, readingsLeft: dip.readingsLeft - 1 } : undefined;
        if (dip === undefined) changes.push({ kind: 'outputRecovered', machineId });
      } else if (dice.next() < DIP_PROBABILITY) {
        dip = { ratio: Math.round(dice.between(0.55, 0.78) * 100) / 100, readingsLeft: dice.wholeBetween(DIP_READINGS) };
        changes.push({ kind: 'outputDip', machineId, ratio: dip.ratio });
      }
      return { machine: { ...machine, qualityTrend, dip }, changes };
    }
    default: {
      const _exhaustive: never = machine.status;
      return _exhaustive;
    }
  }
}

/**
 * The next reading: the machine whose turn it is moves on one step (a fault that is due hits it if
 * it is running, else waits for the next running machine) and reports its state at `at`.
 */
export function nextReading(simulation: PlantSimulation, at: Date): SimulationStep {
  const { settings } = simulation;
  const dice = diceFrom(simulation.randomState);
  const readingNumber = simulation.tally.readings + 1;
  const current = simulation.machines[simulation.turn]!;
  const faultDue = simulation.nextFaultAt !== undefined && readingNumber >= simulation.nextFaultAt;
  const faultNow = faultDue && current.status === 'Running';
  const evolved = evolveMachine(current, faultNow, dice);
  const machine = { ...evolved.machine, readings: current.readings + 1 };
  const machines = simulation.machines.map((m, index) => (index === simulation.turn ? machine : m));

  const productionActual = Math.round(machine.productionTarget * outputRatio(machine, dice) * 10) / 10;
  const reading: SimulatedReading = {
    plantId: settings.plantId,
    machineId: machine.machineId,
    topic: `mes/${settings.plantId}/${machine.machineId}/telemetry`,
    payload: {
      machineStatus: machine.status,
      qualityTrend: machine.qualityTrend,
      productionTarget: machine.productionTarget,
      productionActual,
      timestamp: at.toISOString(),
      messageId: `${settings.runId}-${machine.machineId}-${machine.readings}`,
      plantId: settings.plantId,
      machineId: machine.machineId,
    },
  };

  const count = (kind: MachineChange['kind']) => evolved.changes.filter((change) => change.kind === kind).length;
  const tally: SimulationTally = {
    readings: readingNumber,
    faults: simulation.tally.faults + count('fault'),
    recoveries: simulation.tally.recoveries + count('recovered'),
    qualityDeclines: simulation.tally.qualityDeclines + evolved.changes.filter((change) => change.kind === 'quality' && change.qualityTrend === 'Declining').length,
    outputDips: simulation.tally.outputDips + count('outputDip'),
  };
  return {
    simulation: {
      settings,
      machines,
      turn: (simulation.turn + 1) % machines.length,
      nextFaultAt: faultNow ? nextFaultAfter(readingNumber, settings, dice) : simulation.nextFaultAt,
      randomState: dice.state(),
      tally,
    },
    reading,
    changes: evolved.changes,
  };
}

export const DEFAULT_MACHINES = 5;

/**
 * The machines to simulate: the plant's `machines:` list when its configuration has one (the first
 * `count` of it), else M-1 to M-count (5 when not asked).
 */
export function simulatedMachineIds(plantId: string, plant: object, count: number | undefined): string[] {
  const listed = 'machines' in plant ? (plant as { machines?: unknown }).machines : undefined;
  if (Array.isArray(listed) && listed.length > 0 && listed.every((id): id is string => typeof id === 'string')) {
    if (count !== undefined && count > listed.length) {
      throw new Error(`plant ${plantId} lists ${listed.length} machine${listed.length === 1 ? '' : 's'} (machines: in MES_CONFIG); --machines ${count} asks for more`);
    }
    return listed.slice(0, count ?? listed.length);
  }
  return Array.from({ length: count ?? DEFAULT_MACHINES }, (_, index) => `M-${index + 1}`);
}
