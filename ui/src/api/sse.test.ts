import { describe, expect, it } from 'vitest';
import { sseData } from './sse';
import { eventsFrom, servedBy } from './chat';
import { curlSnippet, pythonSnippet } from './snippets';

function streamOf(parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(typeof part === 'string' ? encoder.encode(part) : part);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData(stream)) out.push(data);
  return out;
}

describe('sseData', () => {
  it('yields each event, whatever the chunk boundaries, and skips heartbeat comments', async () => {
    const euro = new TextEncoder().encode('data: {"c":"€"}\n\n');
    const parts = ['data: {"a"', ':1}\n', '\n: waiting for ollama\n\ndata: {"b":2}\r\n\r\n', euro.slice(0, 12), euro.slice(12), 'data: [DONE]\n\n'];
    expect(await collect(streamOf(parts))).toEqual(['{"a":1}', '{"b":2}', '{"c":"€"}', '[DONE]']);
  });

  it('joins the data lines of one event and keeps a last event without its blank line', async () => {
    expect(await collect(streamOf(['data: one\ndata: two\n\ndata: tail']))).toEqual(['one\ntwo', 'tail']);
  });
});

describe('chat events and headers', () => {
  it('reads content, finish reason, usage and in-band errors', () => {
    expect(eventsFrom('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}')).toEqual([{ type: 'delta', content: 'Hi' }]);
    expect(eventsFrom('{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}')).toEqual([{ type: 'finish', reason: 'stop' }]);
    expect(eventsFrom('{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}')).toEqual([{ type: 'usage', promptTokens: 5, completionTokens: 7 }]);
    expect(eventsFrom('{"error":{"message":"stream idle for 30 s"}}')).toEqual([{ type: 'error', message: 'stream idle for 30 s' }]);
    expect(eventsFrom('[DONE]')).toEqual([]);
    expect(eventsFrom('not json')).toEqual([]);
  });

  it('reads who served from the X-Atmosphere headers', () => {
    const headers = new Headers({ 'X-Atmosphere-Backend': 'ollama', 'X-Atmosphere-Model': 'qwen3:4b', 'X-Atmosphere-Attempts': 'llamafarm: HTTP 500; lf-2: breaker open' });
    expect(servedBy(headers)).toEqual({ backend: 'ollama', model: 'qwen3:4b', attempts: ['llamafarm: HTTP 500', 'lf-2: breaker open'], substituted: false });
    expect(servedBy(new Headers()).attempts).toEqual([]);
  });
});

describe('snippets', () => {
  const body = { model: 'auto', messages: [{ role: 'user' as const, content: "It's \"quoted\"" }], stream: true as const, stream_options: { include_usage: true as const } };

  it('quotes the request for a shell and names the key only by its variable', () => {
    const curl = curlSnippet('http://127.0.0.1:8000', body, true);
    expect(curl).toContain('curl -N http://127.0.0.1:8000/v1/chat/completions');
    expect(curl).toContain(`'{"model":"auto","messages":[{"role":"user","content":"It'\\''s \\"quoted\\""}],"stream":true}'`);
    expect(curl).toContain('Bearer $ATMOSPHERE_API_KEY');
    expect(curlSnippet('http://h', body, false)).not.toContain('Authorization');
  });

  it('writes the same request for the OpenAI Python SDK', () => {
    const py = pythonSnippet('http://127.0.0.1:8000', body, false);
    expect(py).toContain('client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")');
    expect(py).toContain('model="auto",');
    expect(py).toContain('{"role": "user", "content": "It\'s \\"quoted\\""},');
    expect(py).toContain('stream=True,');
    expect(pythonSnippet('http://h', body, true)).toContain('api_key=os.environ["ATMOSPHERE_API_KEY"]');
  });
});
