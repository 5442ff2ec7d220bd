import { describe, expect, it } from 'vitest';
import { redactSecrets, sanitizeUrl, sanitizeUrlsDeep } from '../../src/util/redact.ts';

describe('redactSecrets', () => {
  it('removes the configured key, Bearer tokens and sk- keys from server text', () => {
    const text = '인증 실패: header "Authorization: Bearer sk-live-abcdef123456" was rejected; 키 my-local-key-999 확인';
    const out = redactSecrets(text, ['my-local-key-999']);
    expect(out).not.toContain('sk-live-abcdef123456');
    expect(out).not.toContain('abcdef123456');
    expect(out).not.toContain('my-local-key-999');
    expect(out).toContain('인증 실패');
    expect(out).toContain('Bearer [redacted]');
    // Redacting twice (the client, then a caller) changes nothing more.
    expect(redactSecrets(out, ['my-local-key-999'])).toBe(out);
  });

  it('removes bare sk- keys, api_key= values and URL userinfo inside text', () => {
    const out = redactSecrets('키 sk-proj-ZZZZ9999yyyy 와 api_key=abcd1234efgh, http://user:pa55@호스트.kr/v1');
    expect(out).not.toMatch(/ZZZZ9999yyyy|abcd1234efgh|pa55/);
    expect(out).toContain('http://[redacted]@');
  });

  it('leaves ordinary Korean text and short secrets alone', () => {
    expect(redactSecrets('한국의 수도는 서울입니다. 점수: 8', ['ab'])).toBe('한국의 수도는 서울입니다. 점수: 8');
    expect(redactSecrets('Basic information on Bearer authentication and Token limits')).toBe('Basic information on Bearer authentication and Token limits');
    expect(redactSecrets('Authorization: Basic dXNlcjpwYXNz')).toBe('Authorization: Basic [redacted]');
  });
});

describe('sanitizeUrl', () => {
  it('strips userinfo and secret query parameters, keeping the rest', () => {
    expect(sanitizeUrl('http://user:pass@judge.example:8000/v1?api_key=s3cret&region=kr')).toBe('http://judge.example:8000/v1?api_key=[redacted]&region=kr');
    expect(sanitizeUrl('https://h.example/v1?token=abc&sig=def')).toBe('https://h.example/v1?token=[redacted]&sig=[redacted]');
  });

  it('keeps a clean URL exactly as written', () => {
    expect(sanitizeUrl('http://127.0.0.1:8000/v1')).toBe('http://127.0.0.1:8000/v1');
    expect(sanitizeUrl('https://api.openai.com/v1/')).toBe('https://api.openai.com/v1/');
    expect(sanitizeUrl(undefined)).toBeUndefined();
  });

  it('sanitizeUrlsDeep rewrites every URL string in a config, and nothing else', () => {
    const cfg = { stages: [{ type: 'judge', params: { base_url: 'http://u:p@h/v1', rubric: 'judges/quality-ko.yaml' } }], name: '실험' };
    expect(sanitizeUrlsDeep(cfg)).toEqual({ stages: [{ type: 'judge', params: { base_url: 'http://h/v1', rubric: 'judges/quality-ko.yaml' } }], name: '실험' });
    expect(cfg.stages[0].params.base_url).toBe('http://u:p@h/v1');
  });
});
