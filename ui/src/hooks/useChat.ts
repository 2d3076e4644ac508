import { useCallback, useEffect, useRef, useState } from 'react';
import { chatRequestBody, openChatStream, type ChatRequestBody, type ServedBy } from '../api/chat';
import { errorMessage, isAbort } from '../api/client';
import type { ChatMessage } from '../api/types';

/** How the last answer went, measured in the browser from the stream itself. */
export interface StreamStats {
  /** ms from sending to the first content. */
  ttftMs: number | null;
  /** Tokens generated: the usage the gateway reported, else one per content chunk. */
  tokens: number;
  tokensPerSecond: number | null;
  tokensCounted: 'usage' | 'chunks';
  finishReason: string | null;
}

export type ChatPhase = 'idle' | 'waiting' | 'streaming';

/**
 * One conversation with one model, streamed. Keeps the messages, who served
 * the last answer (from the response headers) and how fast it came. A new
 * send while one runs is refused; `stop` aborts the running one (the gateway
 * cancels the upstream call when the client leaves).
 */
export function useChat() {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [phase, setPhase] = useState<ChatPhase>('idle');
  const [served, setServed] = useState<ServedBy | null>(null);
  const [stats, setStats] = useState<StreamStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [lastRequest, setLastRequest] = useState<ChatRequestBody | null>(null);
  const controller = useRef<AbortController | null>(null);

  useEffect(() => () => controller.current?.abort(), []);

  const send = useCallback(
    async (model: string, prompt: string) => {
      if (controller.current) return;
      const history: ChatMessage[] = [...messages, { role: 'user', content: prompt }];
      const body = chatRequestBody(model, history);
      const abort = new AbortController();
      controller.current = abort;
      setMessages([...history, { role: 'assistant', content: '' }]);
      setLastRequest(body);
      setPhase('waiting');
      setServed(null);
      setStats(null);
      setError(null);

      const started = performance.now();
      let first: number | null = null;
      let chunks = 0;
      let usageTokens: number | null = null;
      let finishReason: string | null = null;
      let answer = '';
      try {
        const stream = await openChatStream(body, abort.signal);
        setServed(stream.served);
        setPhase('streaming');
        for await (const event of stream.events) {
          if (event.type === 'delta') {
            first ??= performance.now();
            chunks += 1;
            answer += event.content;
            const text = answer;
            setMessages((list) => [...list.slice(0, -1), { role: 'assistant', content: text }]);
          } else if (event.type === 'usage') {
            usageTokens = event.completionTokens;
          } else if (event.type === 'finish') {
            finishReason = event.reason;
          } else {
            setError(event.message);
          }
        }
      } catch (err) {
        if (!isAbort(err)) setError(errorMessage(err));
      } finally {
        const end = performance.now();
        const tokens = usageTokens && usageTokens > 0 ? usageTokens : chunks;
        const seconds = first !== null ? (end - first) / 1000 : 0;
        if (first !== null) {
          setStats({
            ttftMs: first - started,
            tokens,
            // The clock starts at the first token, so it spans the other tokens - 1.
            tokensPerSecond: seconds > 0 && tokens > 1 ? (tokens - 1) / seconds : null,
            tokensCounted: usageTokens && usageTokens > 0 ? 'usage' : 'chunks',
            finishReason,
          });
        }
        if (!answer) setMessages((list) => (list.at(-1)?.role === 'assistant' && !list.at(-1)?.content ? list.slice(0, -1) : list));
        controller.current = null;
        setPhase('idle');
      }
    },
    [messages],
  );

  const stop = useCallback(() => controller.current?.abort(), []);

  const clear = useCallback(() => {
    controller.current?.abort();
    setMessages([]);
    setServed(null);
    setStats(null);
    setError(null);
    setLastRequest(null);
  }, []);

  return { messages, phase, served, stats, error, lastRequest, send, stop, clear };
}
