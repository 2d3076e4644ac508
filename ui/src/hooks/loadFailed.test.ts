import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { loadFailed } from './loadFailed';

function outcome(err: unknown) {
  const seen: { phase?: string; error?: string } = {};
  loadFailed(
    err,
    (phase) => (seen.phase = phase),
    (message) => (seen.error = message),
  );
  return seen;
}

describe('loadFailed', () => {
  it('calls a page unavailable when this Atmosphere has no such endpoint (404 or 405), with no error shown', () => {
    expect(outcome(new ApiError('Not Found', { status: 404 }))).toEqual({ phase: 'unavailable' });
    expect(outcome(new ApiError('Method Not Allowed', { status: 405 }))).toEqual({ phase: 'unavailable' });
  });

  it("shows any other failure as an error in the service's words", () => {
    expect(outcome(new ApiError('Upstream timed out', { status: 504 }))).toEqual({ phase: 'error', error: 'Upstream timed out' });
    expect(outcome(new TypeError('Failed to fetch'))).toEqual({ phase: 'error', error: 'Failed to fetch' });
  });

  it('says nothing when the load was aborted (the page moved on)', () => {
    expect(outcome(new DOMException('The operation was aborted.', 'AbortError'))).toEqual({});
  });
});
