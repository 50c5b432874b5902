// `npm start`: every service in one process, sharing one NATS connection and one event store.
import { start as approvals } from '@mes/approvals';
import { start as ingest } from '@mes/ingest';
import { start as maintenance } from '@mes/maintenance';
import { runServices } from '@mes/platform';
import { start as projections } from '@mes/projections';
import { start as resources } from '@mes/resources';
import { start as workflow } from '@mes/workflow';

await runServices('mes', { projections, resources, maintenance, approvals, workflow, ingest });
