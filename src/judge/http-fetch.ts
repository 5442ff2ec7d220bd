/**
 * A lean `fetch` for the openai client over node:http / node:https with a keep-alive agent.
 * The global fetch (undici, WHATWG streams) costs ~1.4 ms of CPU per judge request, which caps
 * one process at ~600 requests/s; this one buffers the (small) JSON bodies and costs less. It
 * handles string / byte bodies; anything else (multipart uploads of the batch API, streams)
 * goes to the global fetch. Abort signals (the openai client's timeouts) destroy the request
 * and reject with an AbortError, as fetch does.
 */
import http from 'node:http';
import https from 'node:https';

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' }),
  https: new https.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' }),
};

function abortError(): Error {
  const e = new Error('This operation was aborted');
  e.name = 'AbortError';
  return e;
}

export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  const simpleBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
  if (input instanceof Request || !simpleBody) return globalThis.fetch(input, init);
  const url = typeof input === 'string' ? new URL(input) : input;
  const isHttps = url.protocol === 'https:';
  if (!isHttps && url.protocol !== 'http:') return globalThis.fetch(input, init);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => {
    headers[k] = v;
  });
  // Bodies are decoded here without a decompressor: ask for identity encoding.
  delete headers['accept-encoding'];
  const payload = body === undefined || body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  if (payload) headers['content-length'] = String(payload.byteLength);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) throw abortError();

  return new Promise<Response>((resolve, reject) => {
    const req = (isHttps ? https : http).request(url, { method: init.method ?? 'GET', headers, agent: isHttps ? agents.https : agents.http });
    const onAbort = () => req.destroy(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    req.on('error', (e) => {
      done();
      reject(e);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        done();
        reject(e);
      });
      res.on('end', () => {
        done();
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode ?? 0;
        const nullBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h }));
      });
    });
    req.end(payload);
  });
}
