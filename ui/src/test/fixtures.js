/** Integration objects shaped exactly like the API contract, plus test doubles. */
import { vi } from 'vitest';

const NOW = Date.now() / 1000;

export function ollamaModel(overrides = {}) {
  return {
    id: 'llama3.2:latest',
    name: 'llama3.2:latest',
    family: 'llama',
    parameter_size: '3.2B',
    quantization: 'Q4_K_M',
    size: 2019393189,
    capabilities: ['chat', 'generate', 'tools'],
    project: null,
    ...overrides,
  };
}

export function ollama(overrides = {}) {
  return {
    id: 'ollama',
    name: 'Ollama',
    type: 'ollama',
    url: 'http://localhost:11434',
    status: 'healthy',
    error: null,
    version: '0.5.7',
    models: [ollamaModel(), ollamaModel({ id: 'qwen2.5:0.5b', name: 'qwen2.5:0.5b', family: 'qwen2', parameter_size: '494M', quantization: 'Q4_K_M', size: 397821319 })],
    model_count: 2,
    capabilities: ['chat', 'generate', 'embeddings'],
    latency_ms: 12.4,
    last_checked: NOW,
    enabled: true,
    projects: [],
    default_model: 'llama3.2:latest',
    ...overrides,
  };
}

export function llamafarm(overrides = {}) {
  return {
    id: 'llamafarm',
    name: 'LlamaFarm',
    type: 'llamafarm',
    url: 'http://localhost:14345',
    status: 'healthy',
    error: null,
    version: '0.0.18',
    models: [
      { id: 'fast', name: 'fast', family: null, parameter_size: null, quantization: null, size: null, capabilities: ['chat'], project: 'default/chatbot' },
      { id: 'smart', name: 'smart', family: null, parameter_size: null, quantization: null, size: null, capabilities: ['chat'], project: 'default/chatbot' },
    ],
    model_count: 2,
    capabilities: ['chat', 'embeddings'],
    latency_ms: 30.2,
    last_checked: NOW,
    enabled: true,
    projects: [{ namespace: 'default', name: 'chatbot', default_model: 'fast', models: ['fast', 'smart'] }],
    default_model: 'fast',
    ...overrides,
  };
}

export function jsonResponse(body, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/**
 * Replaces global fetch with a router keyed by "METHOD url". A route is a
 * body (answered with 200) or a function (url, init) returning a Response.
 */
export function mockFetch(routes) {
  const fn = vi.fn(async (url, init = {}) => {
    const key = `${(init.method || 'GET').toUpperCase()} ${url}`;
    const route = routes[key];
    if (route === undefined) return jsonResponse({ error: { message: `no mock for ${key}`, type: 'test', param: null, code: null } }, 500);
    return typeof route === 'function' ? route(url, init) : jsonResponse(route);
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** Calls made to the mocked fetch as "METHOD url" strings. */
export function fetchCalls(fn) {
  return fn.mock.calls.map(([url, init = {}]) => `${(init.method || 'GET').toUpperCase()} ${url}`);
}

/** A WebSocket stand-in the test drives: open(), receive(message), drop(). */
export class MockWebSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = false;
    MockWebSocket.instances.push(this);
  }

  send(data) {
    this.sent.push(JSON.parse(data));
  }

  close() {
    this.closed = true;
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }

  receive(message) {
    this.onmessage?.({ type: 'message', data: JSON.stringify(message) });
  }

  drop() {
    this.readyState = 3;
    this.onclose?.({ type: 'close', code: 1006 });
  }

  static latest() {
    return MockWebSocket.instances[MockWebSocket.instances.length - 1];
  }

  static install() {
    MockWebSocket.instances = [];
    vi.stubGlobal('WebSocket', MockWebSocket);
  }
}
