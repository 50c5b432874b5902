// Plain HTML pages without external resources: every value is escaped where it is put in, and the
// pages carry a Content-Security-Policy of their own (no scripts, inline styles only).
import { escapeHtml } from '@mes/platform';

export { escapeHtml };


/**
 * The policy of these pages. Stricter than the server-wide one, and without
 * `upgrade-insecure-requests`, which would send the confirmation form of a plain-http PUBLIC_URL to https.
 */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE = `
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; background: #f4f5f7; margin: 0; }
  main { max-width: 44rem; margin: 2rem auto; background: #fff; border: 1px solid #d8dce1; border-radius: 8px; padding: 1.5rem 2rem; }
  h1 { font-size: 1.4rem; margin-top: 0; }
  dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .25rem 1rem; }
  /* Long links, order ids and subjects wrap instead of widening the page on a phone. */
  main { overflow-wrap: anywhere; }
  dt { color: #57606a; }
  dd { margin: 0; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; }
  button { font: inherit; padding: .5rem 1.5rem; border-radius: 6px; border: 1px solid transparent; cursor: pointer; color: #fff; }
  .approve { background: #1a7f37; }
  .reject { background: #cf222e; }
  .notice { padding: .75rem 1rem; border-radius: 6px; background: #f6f8fa; border: 1px solid #d8dce1; }
  .muted { color: #57606a; font-size: .9rem; }
  pre { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; padding: .75rem; border-radius: 6px; }
  iframe { width: 100%; min-height: 32rem; border: 1px solid #d8dce1; border-radius: 6px; }
`;

/** A whole page; `body` must already be escaped HTML. */
export function htmlDocument(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
