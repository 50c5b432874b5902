// Approval requests waiting for a decision: who, since when, and when they escalate.
import { useApi } from '../live.js';
import { orderHref } from '../route.js';
import { LoadState, TableWrap, Time } from '../parts.js';
import type { WaitingApproval } from '../types.js';

export function ApprovalsView() {
  const { data, error, loading } = useApi<{ approvals: WaitingApproval[] }>('/api/approvals/waiting', ['approvals', 'orders']);
  const approvals = data?.approvals ?? [];
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals waiting</h1>
      <LoadState error={error} loading={loading} empty={approvals.length === 0}>
        No approval is waiting.
      </LoadState>
      {approvals.length > 0 ? (
        <TableWrap label="Approvals waiting">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Machine</th>
              <th scope="col">Approver</th>
              <th scope="col">Waiting since</th>
              <th scope="col">Escalates at (decide by)</th>
            </tr>
          </thead>
          <tbody>
            {approvals.map((approval) => (
              <tr key={approval.approvalId}>
                <td>
                  <a href={orderHref(approval.orderId)}>{approval.orderId}</a>
                </td>
                <td>
                  {approval.machineId} <span class="muted">({approval.plantId})</span>
                </td>
                <td>
                  {approval.approver.name ?? approval.approver.email} <span class="muted">&lt;{approval.approver.email}&gt;</span>
                  {approval.level !== null && approval.level > 0 ? <span class="muted"> · escalated {approval.level}×</span> : null}
                </td>
                <td>
                  <Time iso={approval.requestedAt} relative />
                </td>
                <td>
                  <Time iso={approval.decideBy} relative />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </section>
  );
}
