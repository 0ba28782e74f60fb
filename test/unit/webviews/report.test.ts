/** The HTML report's escaping: run content stays inside its JSON block; the CSP names the code. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { escapeHtml, inlineSafe, jsonForScript, reportPage } from '../../../core/node/html/page';
import { contentSecurityPolicy, readBundle, webviewHtml } from '../../../extension/src/dashboard/html';

describe('jsonForScript', () => {
  const nasty = ['</script><script>alert(1)</script>', '<!-- x', ']]>', 'a & b', '\u2028\u2029', 'ρ β · 😀'];
  for (const s of nasty) {
    it(`round-trips ${JSON.stringify(s)} without markup characters`, () => {
      const out = jsonForScript({ s });
      assert.ok(!/[<>&\u2028\u2029]/.test(out));
      assert.deepEqual(JSON.parse(out), { s });
    });
  }
});

describe('reportPage', () => {
  const page = reportPage({
    title: '<b>run</b>',
    js: 'console.log("</script>")',
    css: 'a{b:c}',
    data: { type: 'run', name: '</script><img src=x onerror=alert(1)>' },
    dataId: 'aft-report-data',
    generator: 'test',
  });

  it('has exactly the two script elements it writes', () => {
    assert.equal(page.match(/<script/gi)?.length, 2);
    assert.equal(page.match(/<\/script>/gi)?.length, 2);
    assert.ok(!page.includes('<img'));
    assert.ok(page.includes('<title>&lt;b&gt;run&lt;/b&gt;</title>'));
  });

  it('allows the inline script and style by hash and nothing from a network', () => {
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)![1];
    const js = inlineSafe('console.log("</script>")', 'script');
    const hash = createHash('sha256').update(js).digest('base64');
    assert.ok(csp.includes(`script-src &#39;sha256-${hash}&#39;`));
    assert.ok(csp.includes('default-src &#39;none&#39;'));
    assert.ok(!/https?:|unsafe-eval|unsafe-inline/.test(csp));
  });

  it('refuses a bundle with an HTML comment opener', () => assert.throws(() => inlineSafe('a<!--b', 'script'), /<!--/));
  it('escapes HTML', () => assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;'));
});

describe('webview page', () => {
  it('loads only the nonce-bearing script; no eval, no inline script', () => {
    const csp = contentSecurityPolicy('vscode-webview://abc', 'N0nce');
    assert.match(csp, /script-src 'nonce-N0nce'(;|$)/);
    assert.ok(!/unsafe-eval|unsafe-inline|https?:/.test(csp));
    const html = webviewHtml({
      cspSource: 'vscode-webview://abc',
      nonce: 'N0nce',
      bundle: { js: 'start()', css: 'body{}' },
      title: 't"><script>x()</script>',
    });
    assert.equal(html.match(/<script/g)?.length, 1, 'a quote in the title cannot open another element');
    assert.match(html, /<script nonce="N0nce">start\(\)<\/script>/);
    assert.match(html, /<style nonce="N0nce">body\{\}<\/style>/);
  });

  it('inlines the real bundles, closed only where they end', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-bundle-'));
    fs.writeFileSync(path.join(dir, 'dashboard.js'), 'const s = "</script><img src=x onerror=alert(1)>";');
    fs.writeFileSync(path.join(dir, 'dashboard.css'), 'a::after{content:"</style>"}');
    const html = webviewHtml({ cspSource: 'c', nonce: 'N', bundle: readBundle(dir, 'dashboard'), title: 't' });
    assert.equal(html.match(/<\/script>/g)?.length, 1);
    assert.equal(html.match(/<\/style>/g)?.length, 1);
    // A rebuild while the extension runs is picked up.
    fs.writeFileSync(path.join(dir, 'dashboard.js'), 'rebuilt()');
    fs.utimesSync(path.join(dir, 'dashboard.js'), new Date(), new Date(Date.now() + 5000));
    assert.match(
      webviewHtml({ cspSource: 'c', nonce: 'N', bundle: readBundle(dir, 'dashboard'), title: 't' }),
      /rebuilt\(\)/,
    );
  });
});
