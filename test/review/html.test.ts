/** The review page's markup: self-contained, every sample text inert, data recoverable. */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportReview } from '../../src/review/export.ts';
import { escapeHtml, scriptSafeJson } from '../../src/review/html.ts';
import { PAYLOADS, scoredRows, tempDir, writeJsonl } from './helpers.ts';

async function page(): Promise<string> {
  const dir = await tempDir();
  const input = await writeJsonl(join(dir, '<b>입력<i>.jsonl'), scoredRows());
  const out = join(dir, 'review.html');
  await exportReview({ input, output: out, format: 'html' });
  return readFile(out, 'utf8');
}

describe('review page markup', () => {
  it('contains no injected markup: no payload appears unescaped anywhere in the file', async () => {
    const html = await page();
    for (const p of Object.values(PAYLOADS)) {
      if (p.includes('<')) expect(html).not.toContain(p);
    }
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<svg/i);
    // The sample text lives only in the JSON data block, where no < > & is left to open markup.
    const [before, rest] = html.split('<script type="application/json" id="review-data">');
    const [data, after] = rest!.split('</script>');
    expect(data).not.toMatch(/[<>&]/);
    expect(data).toContain('onerror=');
    expect(before + after!).not.toMatch(/onerror|__pwned/i);
    // Exactly the page's own two script elements (the JSON data block and the page script).
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    expect(html.match(/<textarea/gi)).toHaveLength(1);
    // The input file name (shown in the title) is escaped too.
    expect(html).toContain('&lt;b&gt;입력&lt;i&gt;.jsonl');
  });

  it('carries the items as JSON that parses back to the exact Korean texts', async () => {
    const html = await page();
    const m = /<script type="application\/json" id="review-data">([\s\S]*?)<\/script>/.exec(html)!;
    const data = JSON.parse(m[1]!);
    expect(data.items).toHaveLength(7);
    expect(data.items[2].prompt).toBe(scoredRows()[2]!.prompt);
    expect(data.items[2].answer).toBe(scoredRows()[2]!.answer);
    expect(data.items[2].judge_reason).toBe(PAYLOADS.closeScript);
    expect(data.items[3].answer).toBe(scoredRows()[3]!.answer);
    expect(data.threshold).toBe(7);
  });

  it('is self-contained: no external resource, network disabled by its Content-Security-Policy', async () => {
    const html = await page();
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b/i);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!.replace(/&#39;/g, "'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
    // The page script never builds markup from strings.
    expect(html).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('escapes for script and attribute contexts', () => {
    expect(scriptSafeJson({ a: '</script><!-- & \u2028' })).toBe('{"a":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"}');
    expect(JSON.parse(scriptSafeJson({ a: '</script>&\u2029' }))).toEqual({ a: '</script>&\u2029' });
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});
