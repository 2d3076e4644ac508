/** API objects shaped exactly like the contract (as `normalize.ts` reads them), plus test doubles. */
import { vi } from 'vitest';
import type { Integration, Model, Project, RequestEntry } from '../api/types';

const NOW = Date.now() / 1000;

export function model(overrides: Partial<Model> = {}): Model {
  return {
    id: 'model',
    name: overrides.id ?? 'model',
    family: null,
    parameter_size: null,
    quantization: null,
    size: null,
    capabilities: ['chat'],
    project: null,
    provider: null,
    ready: true,
    unavailable_reason: null,
    locality: 'local',
    loaded: false,
    ...overrides,
  };
}

export function ollamaModel(overrides: Partial<Model> = {}): Model {
  return model({
    id: 'llama3.2:latest',
    name: 'llama3.2:latest',
    family: 'llama',
    parameter_size: '3.2B',
    quantization: 'Q4_K_M',
    size: 2019393189,
    capabilities: ['chat', 'generate', 'tools'],
    ...overrides,
  });
}

function integration(overrides: Partial<Integration>): Integration {
  return {
    id: 'x',
    name: 'X',
    type: 'ollama',
    url: 'http://localhost:1',
    status: 'healthy',
    error: null,
    version: null,
    models: [],
    model_count: 0,
    capabilities: [],
    latency_ms: null,
    last_checked: NOW,
    enabled: true,
    projects: [],
    default_model: null,
    priority: null,
    removable: false,
    breaker: null,
    inflight: null,
    queue_depth: null,
    max_inflight: null,
    stats: null,
    warmup_supported: false,
    network: 'loopback',
    ...overrides,
  };
}

export function ollama(overrides: Partial<Integration> = {}): Integration {
  return integration({
    id: 'ollama',
    name: 'Ollama',
    type: 'ollama',
    url: 'http://localhost:11434',
    version: '0.5.7',
    models: [
      ollamaModel(),
      ollamaModel({ id: 'qwen2.5:0.5b', name: 'qwen2.5:0.5b', family: 'qwen2', parameter_size: '494M', quantization: 'Q4_K_M', size: 397821319 }),
    ],
    model_count: 2,
    capabilities: ['chat', 'generate', 'embeddings'],
    latency_ms: 12.4,
    default_model: 'llama3.2:latest',
    priority: 1,
    ...overrides,
  });
}

export function project(overrides: Partial<Project> = {}): Project {
  return { namespace: 'default', name: 'chatbot', default_model: 'fast', models: ['fast', 'smart'], validation_error: null, ...overrides };
}

export function llamafarm(overrides: Partial<Integration> = {}): Integration {
  return integration({
    id: 'llamafarm',
    name: 'LlamaFarm',
    type: 'llamafarm',
    url: 'http://localhost:14345',
    version: '0.0.18',
    models: [
      model({ id: 'fast', name: 'fast', project: 'default/chatbot', provider: 'universal' }),
      model({ id: 'smart', name: 'smart', project: 'default/chatbot', provider: 'universal' }),
    ],
    model_count: 2,
    capabilities: ['chat', 'embeddings'],
    latency_ms: 30.2,
    projects: [project()],
    default_model: 'fast',
    priority: 0,
    ...overrides,
  });
}

let _requestId = 0;

export function requestEntry(overrides: Partial<RequestEntry> = {}): RequestEntry {
  _requestId += 1;
  return {
    id: `req-${_requestId}`,
    time: Date.now() / 1000,
    surface: 'openai.chat',
    requested_model: 'auto',
    backend: 'ollama',
    model: 'llama3.2:latest',
    substituted: false,
    attempts: [],
    status: 200,
    outcome: 'ok',
    added_ms: 1.2,
    upstream_ms: 240,
    ttft_ms: 80,
    tokens_in: 12,
    tokens_out: 30,
    stream: false,
    client: '127.0.0.1',
    reason: null,
    agent: null,
    ...overrides,
  };
}

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

type Route = unknown | ((url: string, init: RequestInit) => Response | Promise<Response>);

/**
 * Replaces global fetch with a router keyed by "METHOD url". A route is a
 * body (answered with 200) or a function (url, init) returning a Response.
 */
export function mockFetch(routes: Record<string, Route>) {
  const fn = vi.fn(async (url: string, init: RequestInit = {}): Promise<Response> => {
    const key = `${(init.method || 'GET').toUpperCase()} ${url}`;
    const route = routes[key];
    if (route === undefined) return jsonResponse({ error: { message: `no mock for ${key}`, type: 'test', param: null, code: null } }, 500);
    return typeof route === 'function' ? (route as (url: string, init: RequestInit) => Response | Promise<Response>)(url, init) : jsonResponse(route);
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** Calls made to the mocked fetch as "METHOD url" strings. */
export function fetchCalls(fn: ReturnType<typeof mockFetch>): string[] {
  return fn.mock.calls.map(([url, init = {}]) => `${(init.method || 'GET').toUpperCase()} ${url}`);
}

/** The JSON body of the n-th call to the mocked fetch. */
export function sentBody(fn: ReturnType<typeof mockFetch>, n = 0): unknown {
  return JSON.parse(String(fn.mock.calls[n][1]?.body));
}

/** A promise the test settles by hand. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A WebSocket stand-in the test drives: open(), receive(message), drop(). */
export class MockWebSocket {
  static instances: MockWebSocket[] = [];

  url: string;
  readyState = 0;
  sent: unknown[] = [];
  closed = false;
  onopen: ((event: { type: string }) => void) | null = null;
  onmessage: ((event: { type?: string; data: unknown }) => void) | null = null;
  onerror: ((event: { type: string }) => void) | null = null;
  onclose: ((event: { type: string; code: number }) => void) | null = null;

  constructor(url: string) {
    this.url = url;
    MockWebSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closed = true;
    this.readyState = 3;
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }

  receive(message: unknown): void {
    this.onmessage?.({ type: 'message', data: JSON.stringify(message) });
  }

  drop(): void {
    this.readyState = 3;
    this.onclose?.({ type: 'close', code: 1006 });
  }

  static latest(): MockWebSocket {
    const socket = MockWebSocket.instances[MockWebSocket.instances.length - 1];
    if (!socket) throw new Error('no WebSocket was opened');
    return socket;
  }

  static install(): void {
    MockWebSocket.instances = [];
    vi.stubGlobal('WebSocket', MockWebSocket);
  }
}
