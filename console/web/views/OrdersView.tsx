// Orders, newest first, filtered by plant, status and machine, a page at a time.
import { withQuery } from '../api.js';
import { useApi } from '../live.js';
import { orderHref, type Route } from '../route.js';
import { Badge, LoadState, TableWrap, Time } from '../parts.js';
import { ORDER_STATUSES, type Order } from '../types.js';

const PAGE = 25;

function go(query: Record<string, string | number | undefined>) {
  window.location.hash = withQuery('/orders', query);
}

export function OrdersView({ route }: { route: Route }) {
  const plant = route.query.get('plant') ?? '';
  const status = route.query.get('status') ?? '';
  const machine = route.query.get('machine') ?? '';
  const offset = Number(route.query.get('offset') ?? '0') || 0;
  const { data, error, loading } = useApi<{ orders: Order[]; total: number }>(withQuery('/api/orders', { plant, status, machine, limit: PAGE, offset }), ['orders']);
  const orders = data?.orders ?? [];
  const total = data?.total ?? 0;
  const filter = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    go({ plant: String(form.get('plant') ?? '').trim(), status: String(form.get('status') ?? ''), machine: String(form.get('machine') ?? '').trim() });
  };
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Orders</h1>
      <form class="filters" onSubmit={filter}>
        <label>
          Plant <input name="plant" value={plant} size={8} />
        </label>
        <label>
          Status{' '}
          <select name="status" value={status}>
            <option value="">any</option>
            {ORDER_STATUSES.map((s) => (
              <option value={s} key={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Machine <input name="machine" value={machine} size={10} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <LoadState error={error} loading={loading} empty={orders.length === 0}>
        No orders match.
      </LoadState>
      {orders.length > 0 ? (
        <TableWrap label="Orders">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Machine</th>
              <th scope="col">Plant</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
              <th scope="col">Opened</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((order) => (
              <tr key={order.orderId}>
                <td>
                  <a href={orderHref(order.orderId)}>{order.orderId}</a>
                </td>
                <td>{order.machineId}</td>
                <td>{order.plantId}</td>
                <td>
                  <Badge value={order.status} />
                </td>
                <td>{order.reason}</td>
                <td>
                  <Time iso={order.createdAt} />
                </td>
                <td>
                  <Time iso={order.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </TableWrap>
      ) : null}
      <nav class="pager" aria-label="Pages of orders">
        <span class="muted">
          {total === 0 ? '' : `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`}
        </span>
        <button type="button" disabled={offset === 0} onClick={() => go({ plant, status, machine, offset: Math.max(0, offset - PAGE) })}>
          Newer
        </button>
        <button type="button" disabled={offset + PAGE >= total} onClick={() => go({ plant, status, machine, offset: offset + PAGE })}>
          Older
        </button>
      </nav>
    </section>
  );
}
