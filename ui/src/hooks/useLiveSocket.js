import { useCallback, useEffect, useRef, useState } from 'react';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
const OPEN = 1; // WebSocket.OPEN, spelled out so test doubles need not define it

/** Delay before reconnect attempt number `attempt` (0-based): 1 s, 2 s, 4 s ... capped at 30 s. */
export function backoffDelay(attempt) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

/**
 * Keeps a WebSocket to `url` open, reconnecting with exponential backoff when
 * it drops. Calls `onMessage(message)` with every parsed JSON message that
 * has a string `type`.
 *
 * Returns `{ state, send }` where state is "connecting" (first attempt),
 * "live" (open) or "reconnecting" (dropped, retrying).
 */
export function useLiveSocket(url, onMessage) {
  const [state, setState] = useState('connecting');
  const handlerRef = useRef(onMessage);
  const socketRef = useRef(null);

  useEffect(() => {
    handlerRef.current = onMessage;
  });

  useEffect(() => {
    if (!url) return undefined;
    let disposed = false;
    let attempt = 0;
    let timer = null;
    let socket = null;

    function scheduleReconnect() {
      if (disposed) return;
      setState('reconnecting');
      timer = setTimeout(connect, backoffDelay(attempt));
      attempt += 1;
    }

    function connect() {
      if (disposed) return;
      try {
        socket = new WebSocket(url);
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
      current.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message && typeof message.type === 'string' && handlerRef.current) {
          handlerRef.current(message);
        }
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
      if (socket) {
        socket.onopen = null;
        socket.onmessage = null;
        socket.onerror = null;
        socket.onclose = null;
        try {
          socket.close();
        } catch {
          // already closed
        }
      }
      socketRef.current = null;
    };
  }, [url]);

  /** Sends `message` as JSON if the socket is open; returns whether it was sent. */
  const send = useCallback((message) => {
    const socket = socketRef.current;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }, []);

  return { state, send };
}
