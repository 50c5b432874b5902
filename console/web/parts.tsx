// Small pieces every view uses: times in the viewer's zone, status badges, load states.
import type { ComponentChildren } from 'preact';
import { formatLocal, formatUtc, relativeTime } from './time.js';

/** A UTC record shown in the viewer's zone (zone named); the UTC time on hover. */
export function Time({ iso, relative = false }: { iso: string | null | undefined; relative?: boolean }) {
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={formatUtc(iso)}>
      {formatLocal(iso)}
      {relative ? <span class="muted"> ({relativeTime(iso, Date.now())})</span> : null}
    </time>
  );
}

const TONES: Record<string, string> = {
  Running: 'good',
  Idle: 'neutral',
  Fault: 'bad',
  Maintenance: 'warn',
  Offline: 'bad',
  Improving: 'good',
  Stable: 'neutral',
  Declining: 'warn',
  PendingApproval: 'warn',
  Approved: 'good',
  Rejected: 'bad',
  Expired: 'bad',
  AwaitingResources: 'warn',
  ResourcesAllocated: 'good',
  Completed: 'neutral',
  Cancelled: 'neutral',
  Available: 'good',
  Allocated: 'warn',
  Unavailable: 'bad',
};

export function Badge({ value }: { value: string }) {
  return <span class={`badge ${TONES[value] ?? 'neutral'}`}>{value}</span>;
}

export function LoadState({ error, loading, empty, children }: { error: string | undefined; loading: boolean; empty: boolean; children: ComponentChildren }) {
  return (
    <>
      {error ? (
        <p class="problem" role="alert">
          {error}
        </p>
      ) : null}
      {empty && !loading && !error ? <p class="muted">{children}</p> : null}
    </>
  );
}

/** A table that scrolls sideways in its frame; `stacked`: on a phone each row becomes a card of labelled cells (`data-label`). */
export function TableWrap({ label, stacked = false, children }: { label: string; stacked?: boolean; children: ComponentChildren }) {
  return (
    <div class={stacked ? 'table-wrap stacked' : 'table-wrap'} role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}
