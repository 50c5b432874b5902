import { describe, expect, it } from 'vitest';
import { CONSOLE_CONTENT_SECURITY_POLICY, consoleShellPage, signInPage } from './consolePages.js';

describe('console pages', () => {
  it('sign-in: a form posting the token, no script, no inline style, links to health and the mailbox when there is one', () => {
    const html = signInPage({ styles: ['main-abc.css'], mailbox: true });
    expect(html).toContain('<form method="post" action="/console/sign-in">');
    expect(html).toContain('<input id="token" name="token" type="password"');
    expect(html).toContain('<link rel="stylesheet" href="/console/assets/main-abc.css">');
    expect(html).toContain('href="/dev/mailbox"');
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/<style|style="/);
    expect(signInPage({ styles: [], mailbox: false })).not.toContain('/dev/mailbox');
  });

  it('sign-in: shows a problem escaped', () => {
    expect(signInPage({ styles: [], mailbox: false, problem: '<b>bad</b>' })).toContain('<p class="problem" role="alert">&lt;b&gt;bad&lt;/b&gt;</p>');
  });

  it('shell: loads the built script and styles from this server only, and holds no data', () => {
    const html = consoleShellPage({ script: 'main-1.js', styles: ['main-2.css'] });
    expect(html).toContain('<script type="module" src="/console/assets/main-1.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/console/assets/main-2.css">');
    expect(html.match(/<script/g)).toHaveLength(1);
    // No request for /favicon.ico (it would answer 404).
    expect(html).toContain('<link rel="icon" href="data:,">');
    expect(html).not.toMatch(/<script(?![^>]*src=)/);
  });

  it('are served under a policy without inline script or style, framing or other origins', () => {
    expect(CONSOLE_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONSOLE_CONTENT_SECURITY_POLICY).toContain("style-src 'self'");
    expect(CONSOLE_CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CONTENT_SECURITY_POLICY).not.toContain('unsafe');
  });
});
