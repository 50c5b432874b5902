// Each machine: its condition (last reading), a small chart of its recent readings, its open order.
import { useApi } from '../live.js';
import { ReadingsChart } from '../ReadingsChart.js';
import { orderHref } from '../route.js';
import { Badge, LoadState, Time } from '../parts.js';
import type { Machine } from '../types.js';

function ratio(reading: Machine['lastReading']): string {
  return reading.productionTarget > 0 ? `${Math.round((reading.productionActual / reading.productionTarget) * 100)}%` : '–';
}

export function MachinesView() {
  const { data, error, loading } = useApi<{ machines: Machine[] }>('/api/machines', ['machines', 'orders']);
  const machines = data?.machines ?? [];
  return (
    <section aria-labelledby="machines-title">
      <h1 id="machines-title">Machines</h1>
      <LoadState error={error} loading={loading} empty={machines.length === 0}>
        No readings yet. Machines appear with their first accepted reading.
      </LoadState>
      <ul class="cards">
        {machines.map((machine) => {
          const last = machine.lastReading;
          return (
            <li class={`card machine ${last.machineStatus === 'Fault' ? 'fault' : ''}`} key={`${machine.plantId}/${machine.machineId}`} data-machine={machine.machineId}>
              <h2>
                {machine.machineId} <span class="muted">plant {machine.plantId}</span>
              </h2>
              <p class="condition">
                <Badge value={last.machineStatus} /> quality <Badge value={last.qualityTrend} /> output {last.productionActual} of {last.productionTarget} ({ratio(last)})
              </p>
              <p class="muted">
                Last reading <Time iso={last.timestamp} relative />
              </p>
              <ReadingsChart readings={machine.recentReadings} label={`Output and target of ${machine.machineId} over its last ${machine.recentReadings.length} readings`} />
              <p>
                {machine.openOrder ? (
                  <>
                    Open order <a href={orderHref(machine.openOrder.orderId)}>{machine.openOrder.orderId}</a> <Badge value={machine.openOrder.status} />
                  </>
                ) : (
                  <span class="muted">No open order</span>
                )}
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
