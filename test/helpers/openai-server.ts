/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 (node:http, port 0) for tests and benches.
 *
 * It speaks POST /v1/chat/completions, /v1/moderations, /v1/files (multipart upload),
 * GET /v1/files/:id/content, POST /v1/batches, GET /v1/batches (list), GET /v1/batches/:id. Behaviour is scripted by
 * the caller's `handler`, which sees every request (parsed JSON body, path, per-path call index)
 * and returns what to do:
 *
 *   { status: 200, json: {...} }                 a JSON answer (any status)
 *   { status: 429, headers: { 'retry-after': '1' }, json: {...} }
 *   { hang: true }                                never answer (the client times out)
 *   { delayMs: 200, ...reply }                    answer after a delay
 *   undefined                                     the default behaviour for that path
 *
 * Helpers build chat answers: `chatReply('{"score": 8, "reason": "..."}')`. The batch endpoints
 * run the batch synchronously on creation through the same handler (one request per line), so
 * a test scripts batch results exactly like online ones.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServerRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body (for JSON requests), else undefined. */
  body: any;
  /** 0-based count of earlier requests to this same path. */
  index: number;
  /** True when the request is replayed from a batch input file. */
  fromBatch?: boolean;
}

export interface ServerReply {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  delayMs?: number;
  hang?: boolean;
}

export type Handler = (req: ServerRequest) => ServerReply | undefined | Promise<ServerReply | undefined>;

export interface OpenAIServer {
  /** e.g. http://127.0.0.1:41234/v1 (what the openai client takes as baseURL). */
  baseURL: string;
  port: number;
  /** Every request seen, in arrival order. */
  requests: ServerRequest[];
  /** Number of chat-completion responses actually delivered with status 200. */
  delivered(): number;
  /** Requests still open (hanging or delayed). */
  inFlight(): number;
  /** TCP connections accepted so far (keep-alive reuse shows as connections << requests). */
  connections(): number;
  files: Map<string, { filename: string; purpose: string; content: string }>;
  batches: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

let idCounter = 0;
const nextId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(idCounter++).toString(36)}`;

/** A chat.completion body whose assistant message is `content`. */
export function chatReply(content: string, usage = { prompt_tokens: 100, completion_tokens: 20 }, model = 'test-judge'): ServerReply {
  return {
    status: 200,
    json: {
      id: nextId('chatcmpl'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    },
  };
}

/** An OpenAI-style error body. */
export function errorReply(status: number, message: string, headers?: Record<string, string>): ServerReply {
  return { status, headers, json: { error: { message, type: 'test_error', param: null, code: null } } };
}

export async function startOpenAIServer(opts: { handler?: Handler; /** keep every request in `requests` (default true; benches turn it off) */ record?: boolean } = {}): Promise<OpenAIServer> {
  const record = opts.record ?? true;
  const handler = opts.handler ?? (() => undefined);
  const requests: ServerRequest[] = [];
  const counts = new Map<string, number>();
  const files = new Map<string, { filename: string; purpose: string; content: string }>();
  const batches = new Map<string, Record<string, unknown>>();
  const open = new Set<ServerResponse>();
  let delivered = 0;

  const run = async (req: ServerRequest): Promise<ServerReply> => {
    const r = await handler(req);
    if (r) return r;
    return defaultReply(req);
  };

  const defaultReply = (req: ServerRequest): ServerReply => {
    if (req.path === '/v1/chat/completions') return chatReply('{"score": 7, "reason": "기본 응답"}');
    if (req.path === '/v1/moderations') {
      const inputs = Array.isArray(req.body?.input) ? req.body.input : [req.body?.input];
      return {
        status: 200,
        json: {
          id: nextId('modr'),
          model: req.body?.model ?? 'omni-moderation-latest',
          results: inputs.map(() => ({ flagged: false, categories: {}, category_scores: {} })),
        },
      };
    }
    return errorReply(404, `no route for ${req.method} ${req.path}`);
  };

  const server: Server = createServer(async (req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname;
      const method = req.method ?? 'GET';

      // Files and batches are served here; chat/moderation go through the handler.
      if (method === 'POST' && path === '/v1/files') {
        const form = await new Request('http://x/', { method: 'POST', headers: req.headers as Record<string, string>, body: raw }).formData();
        const file = form.get('file') as File;
        const id = nextId('file');
        files.set(id, { filename: file.name, purpose: String(form.get('purpose')), content: await file.text() });
        return send(res, { status: 200, json: fileObject(id, files.get(id)!) });
      }
      const fileContent = path.match(/^\/v1\/files\/([^/]+)\/content$/);
      if (method === 'GET' && fileContent) {
        const f = files.get(fileContent[1]);
        if (!f) return send(res, errorReply(404, 'no such file'));
        return send(res, { status: 200, text: f.content });
      }
      const fileGet = path.match(/^\/v1\/files\/([^/]+)$/);
      if (method === 'GET' && fileGet) {
        const f = files.get(fileGet[1]);
        return send(res, f ? { status: 200, json: fileObject(fileGet[1], f) } : errorReply(404, 'no such file'));
      }

      if (method === 'GET' && path === '/__stats') return send(res, { status: 200, json: { delivered, connections, requests: requests.length } });

      const index = counts.get(path) ?? 0;
      counts.set(path, index + 1);
      const body = raw.length && String(req.headers['content-type'] ?? '').includes('json') ? JSON.parse(raw.toString('utf8')) : undefined;
      const sreq: ServerRequest = { method, path, headers: req.headers, body, index };
      if (record) requests.push(sreq);

      if (method === 'POST' && path === '/v1/batches') {
        const reply = await handler(sreq);
        if (reply) return send(res, reply);
        const input = files.get(body?.input_file_id);
        if (!input) return send(res, errorReply(400, `input_file_id ${body?.input_file_id} not found`));
        const id = nextId('batch');
        const outLines: string[] = [];
        const errLines: string[] = [];
        const lines = input.content.split('\n').filter((l) => l.trim());
        for (const line of lines) {
          const item = JSON.parse(line);
          const subIndex = counts.get(item.url) ?? 0;
          counts.set(item.url, subIndex + 1);
          const sub: ServerRequest = { method: 'POST', path: item.url, headers: {}, body: item.body, index: subIndex, fromBatch: true };
          requests.push(sub);
          const r = await run(sub);
          const status = r.status ?? 200;
          if (status === 200 && r.json) {
            if (sub.path === '/v1/chat/completions') delivered++;
            outLines.push(JSON.stringify({ id: nextId('batch_req'), custom_id: item.custom_id, response: { status_code: 200, request_id: nextId('req'), body: r.json }, error: null }));
          } else {
            errLines.push(JSON.stringify({ id: nextId('batch_req'), custom_id: item.custom_id, response: { status_code: status, request_id: nextId('req'), body: r.json ?? null }, error: { code: 'server_error', message: `status ${status}` } }));
          }
        }
        const out = nextId('file');
        files.set(out, { filename: 'batch_output.jsonl', purpose: 'batch_output', content: outLines.map((l) => l + '\n').join('') });
        let errId: string | null = null;
        if (errLines.length) {
          errId = nextId('file');
          files.set(errId, { filename: 'batch_errors.jsonl', purpose: 'batch_output', content: errLines.map((l) => l + '\n').join('') });
        }
        const now = Math.floor(Date.now() / 1000);
        const batch = {
          id, object: 'batch', endpoint: body.endpoint, errors: null, input_file_id: body.input_file_id,
          completion_window: body.completion_window, status: 'completed', output_file_id: outLines.length ? out : null,
          error_file_id: errId, created_at: now, in_progress_at: now, completed_at: now, expires_at: now + 86400,
          request_counts: { total: lines.length, completed: outLines.length, failed: errLines.length },
          metadata: body.metadata ?? null,
        };
        batches.set(id, batch);
        return send(res, { status: 200, json: batch });
      }
      if (method === 'GET' && path === '/v1/batches') {
        const reply = await handler(sreq);
        if (reply) return send(res, reply);
        const data = [...batches.values()].reverse();
        return send(res, { status: 200, json: { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false } });
      }
      const batchGet = path.match(/^\/v1\/batches\/([^/]+)$/);
      if (method === 'GET' && batchGet) {
        const reply = await handler(sreq);
        if (reply) return send(res, reply);
        const b = batches.get(batchGet[1]);
        return send(res, b ? { status: 200, json: b } : errorReply(404, 'no such batch'));
      }

      const reply = await run(sreq);
      if (reply.hang) return; // left open until the client gives up or the server closes
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (res.destroyed) return;
      if (path === '/v1/chat/completions' && (reply.status ?? 200) === 200) delivered++;
      send(res, reply);
    } catch (e) {
      if (!res.headersSent) send(res, errorReply(500, `test server error: ${(e as Error).message}`));
    }
  });
  let connections = 0;
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    delivered: () => delivered,
    inFlight: () => open.size,
    connections: () => connections,
    files,
    batches,
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function fileObject(id: string, f: { filename: string; purpose: string; content: string }) {
  return { id, object: 'file', bytes: Buffer.byteLength(f.content), created_at: Math.floor(Date.now() / 1000), filename: f.filename, purpose: f.purpose, status: 'processed' };
}

function send(res: ServerResponse, reply: ServerReply): void {
  if (res.destroyed) return;
  const status = reply.status ?? 200;
  if (reply.text !== undefined) {
    res.writeHead(status, { 'content-type': 'application/octet-stream', ...reply.headers });
    res.end(reply.text);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
  res.end(JSON.stringify(reply.json ?? {}));
}

/**
 * Run as a program (`node --import tsx test/helpers/openai-server.ts [latencyMs]`): serves chat
 * completions that answer after latencyMs, prints `{"baseURL": ...}` on one line, exits when
 * stdin closes. GET /__stats returns the counters. Benches use it to keep the server off the
 * measured process.
 */
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const latencyMs = Number(process.argv[2] ?? 200);
  const server = await startOpenAIServer({ record: false, handler: () => ({ ...chatReply('{"reason": "벤치마크 응답", "score": 7}'), delayMs: latencyMs }) });
  process.stdout.write(JSON.stringify({ baseURL: server.baseURL }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}
