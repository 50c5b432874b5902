// The plant of the projections' end-to-end test, on the shared flow fixture of @mes/platform/testing.
import { startFlowFixture as startSharedFlowFixture, type FlowFixture } from '@mes/platform/testing';

export { approvalEmail, eventually, publishReading, submitDecision } from '@mes/platform/testing';
export type { FlowFixture } from '@mes/platform/testing';

const FLOW_PLANTS_YAML = `plants:
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
`;

export function startFlowFixture(): Promise<FlowFixture> {
  return startSharedFlowFixture({ plantsYaml: FLOW_PLANTS_YAML });
}
