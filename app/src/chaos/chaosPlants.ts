// The plants of the chaos runs: two plants, a few resources each (so orders queue for them and get
// them as others complete), an approval timeout longer than a run (every order is decided by a
// person, never expired), and which copies serve which plant.
import type { ServiceName } from '@mes/platform/testing';

export const CHAOS_PLANTS = ['P1', 'P2'] as const;
export type ChaosPlant = (typeof CHAOS_PLANTS)[number];

export const CHAOS_PLANTS_YAML = `# Plants of the chaos runs (app/src/chaos).
plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT2H
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: T-02, type: Technician, name: Kenji Sato }
      - { id: T-03, type: Technician, name: Ola Berg }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
      - { id: EQ-02, type: Equipment, name: Vibration analyser }
      - { id: EQ-03, type: Equipment, name: Thermal camera }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
      - { when: { qualityTrend: Declining }, action: maintenance, reason: "Quality declining" }
      - { when: { productionRatioBelow: 0.8 }, action: maintenance, reason: "Output below 80% of target" }
  P2:
    approvers:
      - { email: carla@plant2.example, name: Carla Mendes }
    approvalTimeout: PT2H
    resources:
      - { id: P2-T-01, type: Technician, name: Lars Berg }
      - { id: P2-T-02, type: Technician, name: Mia Chen }
      - { id: P2-EQ-01, type: Equipment, name: Forklift }
      - { id: P2-EQ-02, type: Equipment, name: Crane }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
      - { when: { productionRatioBelow: 0.5 }, action: maintenance, reason: "Output below half of target" }
`;

/**
 * PLANTS per copy: workflow and resources copies are split (copy 1 serves P1, copy 2 serves P2,
 * further copies serve both), so a plant's work moves to no other copy while its own is down;
 * every other service's copies serve both plants and share the work.
 */
export function chaosPlantsFor(service: ServiceName, index: number): readonly string[] | undefined {
  if (service !== 'workflow' && service !== 'resources') return undefined;
  return index <= CHAOS_PLANTS.length ? [CHAOS_PLANTS[index - 1]!] : undefined;
}
