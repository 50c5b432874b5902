// A machine's recent readings as a small chart (uPlot): output and target over time.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Reading } from './types.js';

function series(readings: readonly Reading[]): uPlot.AlignedData {
  return [readings.map((r) => Date.parse(r.timestamp) / 1000), readings.map((r) => r.productionActual), readings.map((r) => r.productionTarget)];
}

export function ReadingsChart({ readings, label }: { readings: readonly Reading[]; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  useEffect(() => {
    if (host.current === null) return;
    chart.current = new uPlot(
      {
        width: 260,
        height: 90,
        legend: { show: false },
        cursor: { show: false },
        axes: [{ show: false }, { size: 36, font: '11px system-ui', ticks: { show: false } }],
        series: [{}, { label: 'output', stroke: '#0969da', width: 2, points: { show: readings.length < 3 } }, { label: 'target', stroke: '#8c959f', dash: [4, 4], width: 1, points: { show: false } }],
      },
      series(readings),
      host.current,
    );
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setData(series(readings));
  }, [readings]);
  return <div class="chart" ref={host} role="img" aria-label={label} />;
}
