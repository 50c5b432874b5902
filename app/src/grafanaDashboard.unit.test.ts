// The Grafana dashboard (deploy/grafana) asks only for metrics the services export and tables the
// projections keep, so a rename on either side fails here instead of leaving an empty panel.
import { createMetrics } from '@mes/platform';
import { REPORTING_MIGRATIONS } from '@mes/projections';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Panel {
  type: string;
  title: string;
  targets?: { expr?: string; rawSql?: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/mes-dashboard.json', import.meta.url), 'utf8')) as { panels: Panel[]; templating: { list: { definition?: string }[] } };
const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));

describe('the Grafana dashboard', () => {
  it('queries only metrics that /metrics exports', async () => {
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name));
    const queried = [...targets.map((t) => t.expr ?? ''), ...dashboard.templating.list.map((v) => v.definition ?? '')].flatMap((expr) => expr.match(/\bmes_[a-z_]+/g) ?? []);
    expect(queried.length).toBeGreaterThan(10);
    for (const name of queried) expect(exported, name).toContain(name.replace(/_(bucket|count|sum)$/, ''));
    for (const name of ['mes_readings_accepted_total', 'mes_readings_dead_lettered_total', 'mes_open_workflows', 'mes_approvals_waiting', 'mes_approval_decision_seconds', 'mes_fault_to_email_seconds', 'mes_consumer_pending_messages', 'mes_http_requests_total']) {
      expect(queried.map((q) => q.replace(/_(bucket|count|sum)$/, '')), name).toContain(name);
    }
  });

  it('reads only tables and columns of the reporting schema', () => {
    const tables = new Map<string, Set<string>>();
    for (const migration of REPORTING_MIGRATIONS) {
      for (const op of migration.ops) if (op.kind === 'createTable') tables.set(op.table.name, new Set(op.table.columns.map((c) => c.name)));
    }
    const columns = new Set([...tables.values()].flatMap((set) => [...set]));
    const sqls = targets.map((t) => t.rawSql).filter((sql): sql is string => sql !== undefined);
    expect(sqls.length).toBeGreaterThan(3);
    for (const sql of sqls) {
      for (const [, table] of sql.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z]+)/g)) expect([...tables.keys()], sql).toContain(table);
      // Every capitalised identifier that is not SQL, a Grafana macro or an alias is a column.
      const identifiers = sql.replace(/\$__\w+\([^)]*\)/g, '').replace(/'[^']*'/g, '').match(/\b[A-Z][A-Za-z]+\b/g) ?? [];
      const sqlWords = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'IN', 'ORDER', 'BY', 'GROUP', 'DESC', 'AS', 'IS', 'NOT', 'NULL', 'JOIN', 'ON', 'COUNT', 'AVG', 'NULLIF', 'DATEDIFF', 'SecondsToDecide']);
      for (const identifier of identifiers) if (!sqlWords.has(identifier) && !tables.has(identifier)) expect(columns, `${identifier} in ${sql}`).toContain(identifier);
    }
  });
});
