// The two HTML documents of the console: the sign-in (all a signed-out visitor ever sees) and the
// shell the browser code renders into once signed in. Neither holds data, inline script or inline
// style; every value put in is escaped.
import { escapeHtml } from '@mes/platform';

/** No inline scripts or styles, nothing from elsewhere, no framing. */
export const CONSOLE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const ASSETS_PATH = '/console/assets';

function document(title: string, styles: readonly string[], body: string, script?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
${styles.map((file) => `<link rel="stylesheet" href="${ASSETS_PATH}/${escapeHtml(file)}">`).join('\n')}
${script === undefined ? '' : `<script type="module" src="${ASSETS_PATH}/${escapeHtml(script)}"></script>`}
</head>
<body>
${body}
</body>
</html>
`;
}

export interface SignInPageContent {
  styles: readonly string[];
  /** Shown above the form, e.g. after a wrong token. */
  problem?: string;
  /** Whether GET /dev/mailbox exists (SMTP_URL unset). */
  mailbox: boolean;
}

export function signInPage(content: SignInPageContent): string {
  return document(
    'Sign in · MES console',
    content.styles,
    `<main class="sign-in">
<h1>MES console</h1>
<p>Machines, maintenance orders, approvals and resources of the plants, live.</p>
<form method="post" action="/console/sign-in">
${content.problem === undefined ? '' : `<p class="problem" role="alert">${escapeHtml(content.problem)}</p>`}
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus spellcheck="false">
<p class="hint">The value of API_TOKEN (or one of API_TOKENS). In development <code>npm start</code> prints it.</p>
<button type="submit">Sign in</button>
</form>
<ul class="links">
<li><a href="/health">Health</a></li>
${content.mailbox ? '<li><a href="/dev/mailbox">Development mailbox</a></li>' : ''}
</ul>
</main>`,
  );
}

export function consoleShellPage(assets: { script: string; styles: readonly string[] }): string {
  return document(
    'MES console',
    assets.styles,
    `<div id="app"><p class="loading">Loading the console…</p></div>
<noscript><p>The console needs JavaScript. The API under /api answers without it.</p></noscript>`,
    assets.script,
  );
}

export function consoleNotBuiltPage(reason: string): string {
  return document('MES console', [], `<main><h1>MES console</h1><p>${escapeHtml(reason)}</p></main>`);
}
