// Technicians and equipment: who holds what, and the approved orders waiting for them.
import { useApi } from '../live.js';
import { orderHref } from '../route.js';
import { Badge, LoadState, TableWrap, Time } from '../parts.js';
import type { QueuedOrder, Resource } from '../types.js';

export function ResourcesView() {
  const { data, error, loading } = useApi<{ resources: Resource[]; queue: QueuedOrder[] }>('/api/resources', ['resources', 'orders']);
  const resources = data?.resources ?? [];
  const queue = data?.queue ?? [];
  return (
    <section aria-labelledby="resources-title">
      <h1 id="resources-title">Resources</h1>
      <LoadState error={error} loading={loading} empty={resources.length === 0}>
        No resources are registered.
      </LoadState>
      {resources.length > 0 ? (
        <TableWrap label="Resources">
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Type</th>
              <th scope="col">Plant</th>
              <th scope="col">Status</th>
              <th scope="col">Held by</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {resources.map((resource) => (
              <tr key={resource.resourceId}>
                <td>
                  {resource.name} <span class="muted">{resource.resourceId}</span>
                </td>
                <td>{resource.resourceType}</td>
                <td>{resource.plantId}</td>
                <td>
                  <Badge value={resource.status} />
                  {resource.unavailableReason ? <span class="muted"> {resource.unavailableReason}</span> : null}
                </td>
                <td>
                  {resource.orderId ? (
                    <>
                      <a href={orderHref(resource.orderId)}>{resource.orderId}</a>
                      {resource.machineId ? <span class="muted"> ({resource.machineId})</span> : null}
                    </>
                  ) : (
                    <span class="muted">–</span>
                  )}
                </td>
                <td>
                  <Time iso={resource.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
      <h2>Waiting for resources</h2>
      {queue.length === 0 ? <p class="muted">No approved order is waiting.</p> : null}
      {queue.length > 0 ? (
        <TableWrap label="Orders waiting for resources">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Order</th>
              <th scope="col">Machine</th>
              <th scope="col">Status</th>
              <th scope="col">Approved</th>
            </tr>
          </thead>
          <tbody>
            {queue.map((order, index) => (
              <tr key={order.orderId}>
                <td>{index + 1}</td>
                <td>
                  <a href={orderHref(order.orderId)}>{order.orderId}</a>
                </td>
                <td>
                  {order.machineId} <span class="muted">({order.plantId})</span>
                </td>
                <td>
                  <Badge value={order.status} />
                </td>
                <td>
                  <Time iso={order.waitingSince} relative />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </section>
  );
}
