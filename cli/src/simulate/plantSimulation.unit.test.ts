import { productionRatio, validateTelemetry } from '@mes/contracts';
import { describe, expect, it } from 'vitest';
import { nextReading, simulatedMachineIds, startSimulation, type PlantSimulation, type SimulatedReading, type SimulationSettings, type SimulationStep } from './plantSimulation.js';

const SETTINGS: SimulationSettings = { plantId: 'P1', machineIds: ['M-1', 'M-2', 'M-3', 'M-4', 'M-5'], readingsPerSecond: 2, faultsPerMinute: 1, runId: 'simtest', seed: 42 };
const START = Date.parse('2026-11-25T10:00:00.000Z');

/** `count` readings, one every 1/rate seconds from START. */
function run(settings: SimulationSettings, count: number): { steps: SimulationStep[]; last: PlantSimulation } {
  let simulation = startSimulation(settings);
  const steps: SimulationStep[] = [];
  for (let i = 0; i < count; i++) {
    const step = nextReading(simulation, new Date(START + (i * 1000) / settings.readingsPerSecond));
    steps.push(step);
    simulation = step.simulation;
  }
  return { steps, last: simulation };
}

const readingsOf = (steps: SimulationStep[], machineId?: string): SimulatedReading[] =>
  steps.map((step) => step.reading).filter((reading) => machineId === undefined || reading.machineId === machineId);

describe('plant simulation', () => {
  it('gives the same readings for the same seed, and others for another seed', () => {
    const first = readingsOf(run(SETTINGS, 500).steps);
    expect(readingsOf(run(SETTINGS, 500).steps)).toEqual(first);
    expect(readingsOf(run({ ...SETTINGS, seed: 43 }, 500).steps)).not.toEqual(first);
  });

  it('never changes the state it is given', () => {
    const simulation = startSimulation(SETTINGS);
    const copy = structuredClone(simulation);
    nextReading(simulation, new Date(START));
    expect(simulation).toEqual(copy);
  });

  it('publishes readings that pass every rule of CONTRACT §1, on the machine\'s topic, with unique message ids', () => {
    const { steps } = run({ ...SETTINGS, faultsPerMinute: 6 }, 2000);
    for (const { reading } of steps) {
      expect(reading.topic).toBe(`mes/P1/${reading.machineId}/telemetry`);
      const result = validateTelemetry(reading.topic, Buffer.from(JSON.stringify(reading.payload)), new Date(START));
      expect(result.ok, JSON.stringify(result)).toBe(true);
    }
    const ids = steps.map((step) => step.reading.payload.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('simtest-M-1-1');
    expect(steps[1]!.reading.payload.timestamp).toBe('2026-11-25T10:00:00.500Z');
  });

  it('lets the machines take turns', () => {
    expect(readingsOf(run(SETTINGS, 7).steps).map((r) => r.machineId)).toEqual(['M-1', 'M-2', 'M-3', 'M-4', 'M-5', 'M-1', 'M-2']);
  });

  it('faults at the given rate across the plant, the first one within the first half minute', () => {
    // 10 readings/s for 100 simulated minutes at 3 faults a minute: about 300 faults.
    const { steps, last } = run({ ...SETTINGS, readingsPerSecond: 10, faultsPerMinute: 3 }, 60_000);
    expect(last.tally.faults).toBeGreaterThan(270);
    expect(last.tally.faults).toBeLessThan(330);
    expect(steps.filter((step) => step.changes.some((c) => c.kind === 'fault'))).toHaveLength(last.tally.faults);
    const firstFault = steps.findIndex((step) => step.changes.some((c) => c.kind === 'fault'));
    expect(firstFault).toBeGreaterThanOrEqual(0);
    expect(firstFault / 10).toBeLessThanOrEqual(10); // seconds: half of the mean gap of 20 s
    // Faults hit every machine, not only one.
    expect(new Set(steps.flatMap((step) => step.changes.filter((c) => c.kind === 'fault').map((c) => c.machineId)))).toEqual(new Set(SETTINGS.machineIds));
  });

  it('sends no fault at all with --faults 0', () => {
    const { steps, last } = run({ ...SETTINGS, faultsPerMinute: 0 }, 5000);
    expect(last.tally.faults).toBe(0);
    expect(steps.every((step) => step.reading.payload.machineStatus === 'Running')).toBe(true);
  });

  it('takes a faulted machine through maintenance back to running, with no output meanwhile', () => {
    const { steps } = run({ ...SETTINGS, faultsPerMinute: 10 }, 3000);
    const statuses = readingsOf(steps, 'M-2').map((r) => r.payload.machineStatus);
    const collapsed = statuses.filter((status, i) => i === 0 || statuses[i - 1] !== status);
    expect(collapsed.slice(0, 4)).toEqual(['Running', 'Fault', 'Maintenance', 'Running']);
    // Only Running -> Fault -> Maintenance -> Running, never another order.
    for (let i = 1; i < collapsed.length; i++) {
      expect({ Running: 'Fault', Fault: 'Maintenance', Maintenance: 'Running' }[collapsed[i - 1]!]).toBe(collapsed[i]);
    }
    for (const reading of readingsOf(steps)) {
      if (reading.payload.machineStatus === 'Maintenance') expect(reading.payload.productionActual).toBe(0);
      if (reading.payload.machineStatus === 'Fault') expect(productionRatio(reading.payload)!).toBeLessThanOrEqual(0.2);
    }
  });

  it('drifts quality between Improving, Stable and Declining, always through Stable', () => {
    const trends = readingsOf(run({ ...SETTINGS, faultsPerMinute: 0 }, 5000).steps, 'M-1').map((r) => r.payload.qualityTrend);
    expect(new Set(trends)).toEqual(new Set(['Improving', 'Stable', 'Declining']));
    for (let i = 1; i < trends.length; i++) {
      if (trends[i] !== trends[i - 1]) expect([trends[i], trends[i - 1]]).toContain('Stable');
    }
    // Mostly stable: a decline is an event, not the usual state.
    expect(trends.filter((t) => t === 'Stable').length / trends.length).toBeGreaterThan(0.5);
  });

  it('dips output below 80% of target now and then while running, else keeps it near target', () => {
    const { steps, last } = run({ ...SETTINGS, faultsPerMinute: 0 }, 5000);
    const ratios = readingsOf(steps).map((r) => productionRatio(r.payload)!);
    const low = ratios.filter((ratio) => ratio < 0.8).length;
    expect(last.tally.outputDips).toBeGreaterThan(10);
    expect(low).toBeGreaterThanOrEqual(last.tally.outputDips);
    expect(low / ratios.length).toBeLessThan(0.1);
    expect(ratios.filter((ratio) => ratio >= 0.8).every((ratio) => ratio >= 0.9 && ratio <= 1.04)).toBe(true);
  });

  it('tells what changed on the floor', () => {
    const { steps, last } = run({ ...SETTINGS, faultsPerMinute: 10 }, 3000);
    const changes = steps.flatMap((step) => step.changes);
    expect(changes.filter((c) => c.kind === 'recovered')).toHaveLength(last.tally.recoveries);
    expect(changes.filter((c) => c.kind === 'quality' && c.qualityTrend === 'Declining')).toHaveLength(last.tally.qualityDeclines);
    const faulted = steps.find((step) => step.changes.some((c) => c.kind === 'fault'))!;
    expect(faulted.reading.payload.machineStatus).toBe('Fault');
    expect(faulted.changes).toContainEqual({ kind: 'fault', machineId: faulted.reading.machineId });
  });
});

describe('machines of a simulated plant', () => {
  it('takes the plant\'s machines list when its configuration has one', () => {
    expect(simulatedMachineIds('P1', { machines: ['Press-1', 'Press-2', 'Lathe'] }, undefined)).toEqual(['Press-1', 'Press-2', 'Lathe']);
    expect(simulatedMachineIds('P1', { machines: ['Press-1', 'Press-2', 'Lathe'] }, 2)).toEqual(['Press-1', 'Press-2']);
    expect(() => simulatedMachineIds('P1', { machines: ['Press-1'] }, 3)).toThrow('plant P1 lists 1 machine (machines: in MES_CONFIG); --machines 3 asks for more');
  });

  it('names them M-1 to M-N otherwise, 5 unless asked', () => {
    expect(simulatedMachineIds('P1', { rules: [] }, undefined)).toEqual(['M-1', 'M-2', 'M-3', 'M-4', 'M-5']);
    expect(simulatedMachineIds('P1', {}, 2)).toEqual(['M-1', 'M-2']);
  });
});
