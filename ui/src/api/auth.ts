/**
 * The API key, when the service asks for one (`ATMOSPHERE_API_KEY`).
 *
 * Kept in the tab's session storage (`atmosphere.apiKey`), so it goes away
 * with the tab. A 401 from any call marks the key as needed; the dashboard
 * then asks once (one dialog, however many calls were refused) and every
 * later fetch and socket carries it.
 */

export const STORAGE_KEY = 'atmosphere.apiKey';

export interface AuthState {
  key: string | null;
  /** A call was refused with 401 and no key has been entered since. */
  needed: boolean;
  /** The refused call carried a key: the one we hold is wrong. */
  refused: boolean;
}

type Listener = () => void;

const listeners = new Set<Listener>();

function _read(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) || null;
  } catch {
    return null; // storage disabled: the key lives only as long as the page
  }
}

let state: AuthState = { key: _read(), needed: false, refused: false };

function _set(next: AuthState): void {
  state = next;
  for (const listener of listeners) listener();
}

export function authState(): AuthState {
  return state;
}

export function subscribeAuth(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function apiKey(): string | null {
  return state.key;
}

/** Store the key the person entered (or forget it with null). */
export function setApiKey(key: string | null): void {
  const value = key && key.trim() ? key.trim() : null;
  try {
    if (value) window.sessionStorage.setItem(STORAGE_KEY, value);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: keep it in memory only
  }
  _set({ key: value, needed: false, refused: false });
}

/** A call was answered 401; `sentKey` is the key it carried, if any. */
export function keyRefused(sentKey: string | null): void {
  if (state.needed) return; // already asking
  if (sentKey !== null && sentKey !== state.key) return; // an old key; the new one is already in use
  _set({ ...state, needed: true, refused: sentKey !== null });
}

/** The person closed the dialog without a key: stop asking until they open it again. */
export function dismissKeyPrompt(): void {
  _set({ ...state, needed: false });
}

/** Open the dialog again (from an "Enter API key" button). */
export function askForKey(): void {
  _set({ ...state, needed: true });
}

/** Headers that carry the key, when there is one. */
export function authHeaders(key: string | null = state.key): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Test support: forget everything (session storage included). */
export function resetAuth(): void {
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
  _set({ key: null, needed: false, refused: false });
}
