// Runs the approvals service alone (one of possibly many copies); see README "Deployment".
import { runServices } from '@mes/platform';
import { start } from './index.js';

await runServices('approvals', { approvals: start });
