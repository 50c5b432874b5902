// The Prometheus metrics of one process (GET /metrics, CONTRACT §5), defined in one place so their
// names and labels stay consistent. Counters and histograms are observed where the fact happens
// (ingest counts readings, approvals times decisions and emails); gauges of shared state (open
// workflows, approvals waiting, consumer lag) are read from NATS or SQL when scraped, so every copy
// reports the same value and a dashboard takes max() across copies.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';

/** One sample of a gauge that is read at scrape time. */
export interface GaugeSample {
  labels: Record<string, string>;
  value: number;
}

export type GaugeSource = () => Promise<readonly GaugeSample[]>;

/** A gauge whose samples come from sources registered by whoever can read the state. */
export class ScrapedGauge {
  private readonly sources: GaugeSource[] = [];
  readonly gauge: Gauge;

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], logger: () => Logger | undefined) {
    const sources = this.sources;
    this.gauge = new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        for (const source of sources) {
          try {
            for (const { labels, value } of await source()) this.set(labels, value);
          } catch (err) {
            // A scrape still answers: this gauge just lacks the samples of the source that failed.
            logger()?.warn({ err, metric: name }, 'a metrics source failed; its samples are left out of this scrape');
          }
        }
      },
    });
  }

  /** Adds a source; its samples are read on every scrape. */
  readFrom(source: GaugeSource): void {
    this.sources.push(source);
  }
}

export interface MesMetrics {
  registry: Registry;
  readingsAccepted: Counter<'plant'>;
  readingsDeadLettered: Counter<'plant'>;
  /** From an approval request to its decision, observed when the decision is recorded. */
  approvalDecisionSeconds: Histogram<'plant' | 'decision'>;
  /** From the reading that triggered an order to its first approval email, observed when the email is sent. */
  faultToEmailSeconds: Histogram<'plant'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpRequestSeconds: Histogram<'method' | 'route'>;
  openWorkflows: ScrapedGauge;
  approvalsWaiting: ScrapedGauge;
  /** JetStream durable consumers: messages not yet delivered (num_pending). */
  consumerPending: ScrapedGauge;
  /** JetStream durable consumers: delivered, not yet acknowledged (num_ack_pending). */
  consumerAckPending: ScrapedGauge;
  /** The projections' sources: messages in the log after their checkpoint. */
  projectionBehind: ScrapedGauge;
  /** The logger sources report failures to (set by the runtime). */
  useLogger(logger: Logger): void;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;

export function createMetrics(): MesMetrics {
  const registry = new Registry();
  let logger: Logger | undefined;
  const currentLogger = () => logger;
  collectDefaultMetrics({ register: registry, prefix: 'mes_' });
  const scraped = (name: string, help: string, labelNames: readonly string[]) => new ScrapedGauge(registry, name, help, labelNames, currentLogger);
  return {
    registry,
    readingsAccepted: new Counter({ name: 'mes_readings_accepted_total', help: 'Telemetry readings stored in MES_TELEMETRY, by plant (repeats of a messageId not counted)', labelNames: ['plant'], registers: [registry] }),
    readingsDeadLettered: new Counter({ name: 'mes_readings_dead_lettered_total', help: 'Telemetry messages rejected and recorded as dead letters, by plant (`_unknown` when the topic names no configured plant)', labelNames: ['plant'], registers: [registry] }),
    approvalDecisionSeconds: new Histogram({
      name: 'mes_approval_decision_seconds',
      help: 'From an approval request to the approver\'s decision, by plant and decision',
      labelNames: ['plant', 'decision'],
      buckets: [10, 30, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 24 * HOUR],
      registers: [registry],
    }),
    faultToEmailSeconds: new Histogram({
      name: 'mes_fault_to_email_seconds',
      help: 'From the reading that opened an order to the first approver\'s email being handed to the mail server, by plant',
      labelNames: ['plant'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    httpRequests: new Counter({ name: 'mes_http_requests_total', help: 'HTTP requests answered, by method, route pattern (`unmatched` for no route) and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpRequestSeconds: new Histogram({
      name: 'mes_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    openWorkflows: scraped('mes_open_workflows', 'Workflows open (one per machine at most), by plant, from the KV bucket mes_open_workflows', ['plant']),
    approvalsWaiting: scraped('mes_approvals_waiting', 'Approval requests waiting for a decision, by plant, from the Approvals table', ['plant']),
    consumerPending: scraped('mes_consumer_pending_messages', 'Messages a JetStream durable consumer has not delivered yet (num_pending): its lag', ['stream', 'consumer', 'plant']),
    consumerAckPending: scraped('mes_consumer_ack_pending_messages', 'Messages a JetStream durable consumer delivered and waits for an ack on (num_ack_pending)', ['stream', 'consumer', 'plant']),
    projectionBehind: scraped('mes_projection_behind_messages', 'Messages in the log after a projection source\'s checkpoint (reporting tables lag)', ['source']),
    useLogger(next) {
      logger = next;
    },
  };
}

/** Seconds from `fromIso` to `toIso`; undefined when either is not a time or the span is negative. */
export function secondsBetween(fromIso: string, toIso: string): number | undefined {
  const seconds = (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
