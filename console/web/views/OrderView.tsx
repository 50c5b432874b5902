// One order: its state, the approvers' signatures, its timeline from the audit trail (the event
// log: when, what, who, what changed and why), whether the hash chains of that history hold, the
// auditors' exports of it, and completing or cancelling it with a reason.
import { useState } from 'preact/hooks';
import { ApiProblem, postJson } from '../api.js';
import { chainWords, changeWords } from '../audit.js';
import { useApi } from '../live.js';
import { Badge, LoadState, TableWrap, Time } from '../parts.js';
import { ReasonDialog } from '../ReasonDialog.js';
import { formatLocal, formatUtc } from '../time.js';
import { OPEN_ORDER_STATUSES, type AuditEntry, type ChainCheck, type OrderAudit, type OrderDetail } from '../types.js';

type Action = 'complete' | 'cancel';

/** Who, in words: the API's `who`; from the actor when a server does not send it. */
function whoOf(entry: AuditEntry): string {
  if (entry.who) return entry.who;
  const { actor } = entry;
  if (actor.kind === 'person') return actor.name ? `${actor.name} <${actor.id}>` : actor.id;
  return `${actor.kind} ${actor.id}`;
}

function ChangeCell({ change }: { change: AuditEntry['change'] }) {
  if (!change) return <span class="muted">–</span>;
  return (
    <>
      <span class="subject">{change.subject}</span>
      <br />
      {changeWords(change)}
    </>
  );
}

/** Whether the order's event history verifies: every hash chain of the streams it was read from holds. */
function ChainStatus({ orderId, chain }: { orderId: string; chain: ChainCheck | undefined }) {
  const words = chainWords(chain);
  if (words.state === 'unchecked') return <p class="chain muted">{words.headline}.</p>;
  if (words.state === 'verified') {
    return (
      <p class="chain" data-chain="verified">
        <span class="badge good">{words.headline}</span>
      </p>
    );
  }
  return (
    <div class="chain broken" data-chain="broken" role="alert">
      <p>
        <span class="badge bad">{words.headline}</span>
      </p>
      <p>{words.detail}</p>
      <p class="muted">
        The history may have been changed outside the services: check it with <code>mes audit verify --order {orderId}</code> and follow the procedure for a broken chain.
      </p>
    </div>
  );
}

export function OrderView({ orderId }: { orderId: string }) {
  const path = `/api/orders/${encodeURIComponent(orderId)}`;
  const order = useApi<OrderDetail>(path, ['orders', 'approvals', 'resources']);
  const audit = useApi<OrderAudit>(`${path}/audit`, ['orders', 'approvals', 'resources']);
  const [action, setAction] = useState<Action | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const detail = order.data;

  const run = async (which: Action, reason: string) => {
    try {
      const result = await postJson<{ status: string; changed: boolean }>(`${path}/${which}`, { reason });
      setNotice(`Order ${orderId} is ${result.status}.`);
      order.reload();
      audit.reload();
    } catch (err) {
      throw err instanceof ApiProblem ? new Error(`${err.message} (${err.code})`) : err;
    }
  };

  return (
    <section aria-labelledby="order-title">
      <p>
        <a href="#/orders">← Orders</a>
      </p>
      <h1 id="order-title">Order {orderId}</h1>
      <LoadState error={order.error} loading={order.loading} empty={false}>
        {''}
      </LoadState>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {detail ? (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={detail.status} />
            </dd>
            <dt>Machine</dt>
            <dd>
              {detail.machineId} (plant {detail.plantId})
            </dd>
            <dt>Reason</dt>
            <dd>{detail.reason}</dd>
            <dt>Opened</dt>
            <dd>
              <Time iso={detail.createdAt} relative />
            </dd>
            <dt>Technician</dt>
            <dd>{detail.technicianId ?? <span class="muted">none yet</span>}</dd>
            <dt>Equipment</dt>
            <dd>{detail.equipmentId ?? <span class="muted">none yet</span>}</dd>
          </dl>
          {OPEN_ORDER_STATUSES.includes(detail.status) ? (
            <div class="actions">
              {detail.status !== 'PendingApproval' ? (
                <button type="button" onClick={() => setAction('complete')}>
                  Complete…
                </button>
              ) : null}
              <button type="button" class="danger" onClick={() => setAction('cancel')}>
                Cancel order…
              </button>
            </div>
          ) : null}
          <h2>Signatures</h2>
          {detail.signatures.length === 0 ? <p class="muted">No approver has signed yet.</p> : null}
          <ul class="signatures">
            {detail.signatures.map((signature) => (
              <li key={signature.approvalId} class="signature">
                <p class="meaning">{signature.meaning}</p>
                <p>
                  Signed by <strong>{signature.name}</strong> &lt;{signature.email}&gt;
                </p>
                <p>
                  <time dateTime={signature.signedAt}>{formatUtc(signature.signedAt)}</time> <span class="muted">({formatLocal(signature.signedAt)})</span>
                </p>
                {signature.comment ? <p class="comment">“{signature.comment}”</p> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h2>Timeline</h2>
      {audit.data ? <ChainStatus orderId={orderId} chain={audit.data.chain} /> : null}
      <p class="exports">
        Export the history: <a href={`${path}/audit?format=csv`} download={`${orderId}-audit.csv`}>CSV</a>
        <a href={`${path}/audit?format=jsonl`} download={`${orderId}-audit.jsonl`}>JSON lines</a>
        <a href={`${path}/audit?format=html`} target="_blank" rel="noopener">
          Printable record (HTML)
        </a>
      </p>
      <LoadState error={audit.error} loading={audit.loading} empty={(audit.data?.entries.length ?? 0) === 0}>
        The event log has no history for this order yet.
      </LoadState>
      {audit.data && audit.data.entries.length > 0 ? (
        <TableWrap label="Timeline of the order" stacked>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">Change</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {audit.data.entries.map((entry) => (
              <tr key={entry.eventId} class="timeline-entry" data-event-type={entry.eventType}>
                <td data-label="When" class="when">
                  <Time iso={entry.time} />
                  <br />
                  <span class="muted utc">{formatUtc(entry.time)}</span>
                </td>
                <td data-label="What" class="what">
                  <span class="event-type">{entry.eventType}</span>
                  <br />
                  {entry.summary}
                </td>
                <td data-label="Who" class="who">
                  {whoOf(entry)}
                </td>
                <td data-label="Change" class="change">
                  <ChangeCell change={entry.change} />
                </td>
                <td data-label="Why" class="why">
                  {entry.why ?? <span class="muted">–</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
      {action === 'cancel' ? (
        <ReasonDialog title={`Cancel order ${orderId}`} label="Why is it cancelled? (recorded in the order's history)" confirm="Cancel the order" onConfirm={(reason) => run('cancel', reason)} onClose={() => setAction(undefined)} />
      ) : null}
      {action === 'complete' ? (
        <ReasonDialog title={`Complete order ${orderId}`} label="What was done? (recorded in the order's history)" confirm="Complete the order" onConfirm={(reason) => run('complete', reason)} onClose={() => setAction(undefined)} />
      ) : null}
    </section>
  );
}
