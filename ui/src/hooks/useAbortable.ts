import { useCallback, useEffect, useRef } from 'react';

/**
 * Runs calls with an AbortSignal that fires when the component unmounts, so
 * an answer that arrives later is dropped instead of updating a page that is
 * gone. Aborted calls reject with the AbortError (see `isAbort`).
 */
export function useAbortable(): <T>(call: (signal: AbortSignal) => Promise<T>) => Promise<T> {
  const controllers = useRef(new Set<AbortController>());
  useEffect(() => {
    const live = controllers.current;
    return () => {
      for (const controller of live) controller.abort();
      live.clear();
    };
  }, []);
  return useCallback(async <T,>(call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    controllers.current.add(controller);
    try {
      return await call(controller.signal);
    } finally {
      controllers.current.delete(controller);
    }
  }, []);
}
