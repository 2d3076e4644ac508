import { useSyncExternalStore } from 'react';
import { authState, subscribeAuth, type AuthState } from '../api/auth';

/** The API key state (key held, whether the service asked for one); re-renders when it changes. */
export function useApiKey(): AuthState {
  return useSyncExternalStore(subscribeAuth, authState);
}
