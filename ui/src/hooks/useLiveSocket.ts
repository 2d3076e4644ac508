import { useCallback, useEffect, useRef, useState } from 'react';
import { socketMessageFrom } from '../api/normalize';
import type { SocketMessage } from '../api/types';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
const OPEN = 1; // WebSocket.OPEN, spelled out so test doubles need not define it

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/** Delay before reconnect attempt number `attempt` (0-based): 1 s, 2 s, 4 s ... capped at 30 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

/**
 * Keeps a WebSocket to `url` open, reconnecting with exponential backoff when
 * it drops. Calls `onMessage` with every message the dashboard acts on,
 * already read by `normalize.ts` (anything else is dropped there).
 *
 * `state` is "connecting" (first attempt), "live" (open) or "reconnecting"
 * (dropped, retrying).
 */
export function useLiveSocket(url: string | null, onMessage: (message: SocketMessage) => void) {
  const [state, setState] = useState<LiveState>('connecting');
  const handlerRef = useRef(onMessage);
  const socketRef = useRef<WebSocket | null>(null);

  useEffect(() => {
    handlerRef.current = onMessage;
  });

  useEffect(() => {
    if (!url) return undefined;
    const target = url;
    let disposed = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let socket: WebSocket | null = null;

    function scheduleReconnect() {
      if (disposed) return;
      setState('reconnecting');
      timer = setTimeout(connect, backoffDelay(attempt));
      attempt += 1;
    }

    function connect() {
      if (disposed) return;
      try {
        socket = new WebSocket(target);
      } catch {
        scheduleReconnect();
        return;
      }
      const current = socket;
      socketRef.current = current;
      current.onopen = () => {
        attempt = 0;
        setState('live');
      };
      current.onmessage = (event: MessageEvent) => {
        if (typeof event.data !== 'string') return;
        let raw: unknown;
        try {
          raw = JSON.parse(event.data);
        } catch {
          return;
        }
        const message = socketMessageFrom(raw);
        if (message) handlerRef.current(message);
      };
      current.onerror = () => {
        // A close event always follows; reconnecting is handled there.
      };
      current.onclose = () => {
        if (socketRef.current === current) socketRef.current = null;
        scheduleReconnect();
      };
    }

    setState('connecting');
    connect();

    return () => {
      disposed = true;
      clearTimeout(timer);
      const last = socket as WebSocket | null;
      if (last) {
        last.onopen = null;
        last.onmessage = null;
        last.onerror = null;
        last.onclose = null;
        try {
          last.close();
        } catch {
          // already closed
        }
      }
      socketRef.current = null;
    };
  }, [url]);

  /** Sends `message` as JSON if the socket is open; returns whether it was sent. */
  const send = useCallback((message: object): boolean => {
    const socket = socketRef.current;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }, []);

  return { state, send };
}
