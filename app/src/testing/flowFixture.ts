// The plants of the app's end-to-end tests, on the shared flow fixture of @mes/platform/testing.
import { startFlowFixture as startSharedFlowFixture, type FlowFixture } from '@mes/platform/testing';

export { approvalEmail, eventsOf, eventually, mailsTo, orderEvents, publishReading, submitDecision } from '@mes/platform/testing';
export type { ApprovalEmail, FlowFixture } from '@mes/platform/testing';

export const FLOW_PLANTS_YAML = `plants:
  P1:
    approvers:
      - { email: alice@plant1.example, name: Alice Novak }
      - { email: bob@plant1.example, name: Bob Ito }
    approvalTimeout: PT30M
    resources:
      - { id: T-01, type: Technician, name: Dana Ruiz }
      - { id: EQ-01, type: Equipment, name: Scissor lift }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
      - { when: { qualityTrend: Declining }, action: maintenance, reason: "Quality declining" }
  P2:
    approvers:
      - { email: carol@plant2.example, name: Carol Mendes }
      - { email: dave@plant2.example, name: Dave Berg }
    approvalTimeout: PT2S
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
  P3:
    approvers:
      - { email: erin@plant3.example, name: Erin Sato }
    approvalTimeout: PT30M
    resources:
      - { id: T3-01, type: Technician, name: Femi Adeyemi }
      - { id: EQ3-01, type: Equipment, name: Crane }
    rules:
      - { when: { machineStatus: Fault }, action: maintenance, reason: "Machine fault" }
`;

export function startFlowFixture(): Promise<FlowFixture> {
  return startSharedFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
}
