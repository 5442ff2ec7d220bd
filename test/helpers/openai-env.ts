/** Test-only: keeps the OpenAI environment variables out of judge tests (needs vitest's hooks). */
import { afterEach, beforeEach } from 'vitest';
import type { OpenAIServer } from './openai-server.ts';

/**
 * Clears OPENAI_BASE_URL / OPENAI_API_KEY before each test (so nothing reaches a real endpoint or
 * picks the caller's key), restores them after, and closes the server `current()` returns.
 */
export function isolateOpenAIEnv(current: () => OpenAIServer | undefined, reset: () => void): void {
  const saved = { base: process.env.OPENAI_BASE_URL, key: process.env.OPENAI_API_KEY };
  beforeEach(() => {
    delete process.env.OPENAI_BASE_URL;
    delete process.env.OPENAI_API_KEY;
  });
  afterEach(async () => {
    await current()?.close();
    reset();
    if (saved.base !== undefined) process.env.OPENAI_BASE_URL = saved.base;
    if (saved.key !== undefined) process.env.OPENAI_API_KEY = saved.key;
  });
}
