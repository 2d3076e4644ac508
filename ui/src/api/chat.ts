/**
 * A streamed chat completion through the gateway, the way any OpenAI client
 * sends one: POST /v1/chat/completions with `stream: true`, read as SSE.
 * What the gateway says about who served it comes from its headers.
 */
import { apiFetch, errorFromResponse } from './client';
import { sseData } from './sse';
import type { ChatMessage } from './types';

export interface ChatRequestBody {
  model: string;
  messages: ChatMessage[];
  stream: true;
  stream_options: { include_usage: true };
}

/** Who served the request, from the X-Atmosphere-* response headers. */
export interface ServedBy {
  backend: string | null;
  model: string | null;
  /** Each backend tried before the one that served, and why ("llamafarm: HTTP 500"). */
  attempts: string[];
  substituted: boolean;
}

export type ChatEvent =
  | { type: 'delta'; content: string }
  | { type: 'usage'; promptTokens: number | null; completionTokens: number | null }
  | { type: 'finish'; reason: string }
  | { type: 'error'; message: string };

export function chatRequestBody(model: string, messages: ChatMessage[]): ChatRequestBody {
  return { model, messages, stream: true, stream_options: { include_usage: true } };
}

export function servedBy(headers: Headers): ServedBy {
  const attempts = headers.get('X-Atmosphere-Attempts');
  return {
    backend: headers.get('X-Atmosphere-Backend'),
    model: headers.get('X-Atmosphere-Model'),
    attempts: attempts ? attempts.split('; ').filter(Boolean) : [],
    substituted: (headers.get('X-Atmosphere-Substituted') ?? '').toLowerCase() === 'true',
  };
}

function _num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The events one SSE `data` payload carries (a chunk may hold content, a finish reason and usage). */
export function eventsFrom(payload: string): ChatEvent[] {
  if (payload === '[DONE]') return [];
  let chunk: unknown;
  try {
    chunk = JSON.parse(payload);
  } catch {
    return [];
  }
  if (typeof chunk !== 'object' || chunk === null) return [];
  const c = chunk as { error?: { message?: unknown }; choices?: unknown; usage?: unknown };
  if (c.error) return [{ type: 'error', message: typeof c.error.message === 'string' ? c.error.message : 'The stream ended with an error.' }];
  const events: ChatEvent[] = [];
  const choice = Array.isArray(c.choices) ? (c.choices[0] as { delta?: { content?: unknown }; finish_reason?: unknown } | undefined) : undefined;
  const content = choice?.delta?.content;
  if (typeof content === 'string' && content) events.push({ type: 'delta', content });
  if (typeof choice?.finish_reason === 'string') events.push({ type: 'finish', reason: choice.finish_reason });
  if (typeof c.usage === 'object' && c.usage !== null) {
    const u = c.usage as { prompt_tokens?: unknown; completion_tokens?: unknown };
    events.push({ type: 'usage', promptTokens: _num(u.prompt_tokens), completionTokens: _num(u.completion_tokens) });
  }
  return events;
}

/** Send the request; resolves once the gateway has answered with its head, or rejects with its error. */
export async function openChatStream(body: ChatRequestBody, signal: AbortSignal): Promise<{ served: ServedBy; events: AsyncGenerator<ChatEvent> }> {
  const response = await apiFetch('/v1/chat/completions', {
    method: 'POST',
    signal,
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  if (!response.ok || !response.body) {
    let data: unknown = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    throw errorFromResponse(response, data);
  }
  const stream = response.body;
  async function* events(): AsyncGenerator<ChatEvent> {
    for await (const payload of sseData(stream)) yield* eventsFrom(payload);
  }
  return { served: servedBy(response.headers), events: events() };
}
