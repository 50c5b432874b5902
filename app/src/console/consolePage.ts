// The web console at GET /: a read-only start page that says what runs here and where to go.
// Every value put into the page is escaped.
import { escapeHtml } from '@mes/platform';

export interface ConsolePageContent {
  /** Whether GET /dev/mailbox exists (SMTP_URL unset). */
  mailbox: boolean;
  /** The API's routes, e.g. "GET /api/dead-letters". */
  apiRoutes: readonly string[];
}

/** No scripts, no external resources, no forms. */
export const CONSOLE_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";


export function consolePage(content: ConsolePageContent): string {
  const routes = content.apiRoutes.length === 0 ? '<p>No API routes are registered yet.</p>' : `<ul>\n${content.apiRoutes.map((route) => `<li><code>${escapeHtml(route)}</code></li>`).join('\n')}\n</ul>`;
  const mailbox = content.mailbox
    ? `<li><a href="/dev/mailbox">Development mailbox</a>: the approval emails, with their Approve and Reject links (SMTP_URL is unset, so no mail leaves this process).</li>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>MES adaptive maintenance</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; color: #1b1f24; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  code { background: #f4f5f7; padding: 0 .25rem; border-radius: 4px; }
</style>
</head>
<body>
<h1>MES adaptive maintenance</h1>
<p>Machines report their state over MQTT; a condition that calls for maintenance opens an order, the approver decides by email, and the order gets a technician and equipment.</p>
<ul>
<li><a href="/health">Health</a>: whether every dependency is reachable (JSON; 503 names what is not).</li>
${mailbox}</ul>
<h2>API</h2>
<p>Under <code>/api/</code>; every request needs <code>Authorization: Bearer &lt;API_TOKEN&gt;</code> (in development the token is generated, kept under DATA_DIR and printed at start).</p>
${routes}
<p><small>This page is read-only.</small></p>
</body>
</html>
`;
}
