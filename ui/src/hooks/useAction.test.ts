import { describe, expect, it } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { useAction } from './useAction';
import { ApiError } from '../api/client';
import { deferred } from '../test/fixtures';

describe('useAction', () => {
  it('is pending, under its name, until the action settles, and then says it succeeded', async () => {
    const { result } = renderHook(() => useAction());
    const answer = deferred<void>();
    let succeeded: Promise<boolean> = Promise.resolve(false);
    act(() => {
      succeeded = result.current.run(() => answer.promise, 'remove');
    });
    expect(result.current).toMatchObject({ pending: true, running: 'remove', error: null });
    await act(async () => answer.resolve());
    expect(await succeeded).toBe(true);
    expect(result.current).toMatchObject({ pending: false, running: null, error: null });
  });

  it('keeps the service’s message when the action fails, and clears it when the next one starts', async () => {
    const { result } = renderHook(() => useAction());
    let succeeded = true;
    await act(async () => {
      succeeded = await result.current.run(() => Promise.reject(new ApiError("A key named 'dup' already exists", { status: 409 })));
    });
    expect(succeeded).toBe(false);
    expect(result.current).toMatchObject({ pending: false, error: "A key named 'dup' already exists" });

    const answer = deferred<void>();
    act(() => {
      void result.current.run(() => answer.promise);
    });
    expect(result.current.error).toBeNull();
    await act(async () => answer.resolve());
  });
});
