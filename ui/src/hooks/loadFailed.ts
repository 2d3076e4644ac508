import { ApiError, errorMessage, isAbort } from '../api/client';

/** The phases of a page's first load; `LoadNotes` speaks for 'unavailable' and 'error'. */
export type LoadPhase = 'loading' | 'ready' | 'error' | 'unavailable';

/**
 * The one rule for a page's failed load: an abort says nothing (the page moved on or its key
 * changed); a 404 or 405 means this Atmosphere has no such endpoint (an older or smaller one),
 * 'unavailable' rather than an error; anything else is an 'error' with the service's message.
 */
export function loadFailed(
  err: unknown,
  setPhase: (phase: 'unavailable' | 'error') => void,
  setError: (message: string) => void,
): void {
  if (isAbort(err)) return;
  if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
    setPhase('unavailable');
    return;
  }
  setError(errorMessage(err));
  setPhase('error');
}
