import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { backoffDelay, useLiveSocket } from './useLiveSocket';
import { MockWebSocket } from '../test/fixtures';

describe('useLiveSocket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    MockWebSocket.install();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('backs off 1 s, 2 s, 4 s ... up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(backoffDelay)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('reconnects with growing delays after drops and resets once connected', () => {
    const { result } = renderHook(() => useLiveSocket('ws://test/ws', () => {}));
    expect(MockWebSocket.instances).toHaveLength(1);
    expect(result.current.state).toBe('connecting');

    act(() => MockWebSocket.latest().drop());
    expect(result.current.state).toBe('reconnecting');
    act(() => vi.advanceTimersByTime(999));
    expect(MockWebSocket.instances).toHaveLength(1);
    act(() => vi.advanceTimersByTime(1));
    expect(MockWebSocket.instances).toHaveLength(2);

    act(() => MockWebSocket.latest().drop());
    act(() => vi.advanceTimersByTime(1999));
    expect(MockWebSocket.instances).toHaveLength(2);
    act(() => vi.advanceTimersByTime(1));
    expect(MockWebSocket.instances).toHaveLength(3);

    act(() => MockWebSocket.latest().open());
    expect(result.current.state).toBe('live');
    act(() => MockWebSocket.latest().drop());
    act(() => vi.advanceTimersByTime(1000));
    expect(MockWebSocket.instances).toHaveLength(4);
  });

  it('passes parsed messages on and sends JSON only while open', () => {
    const onMessage = vi.fn();
    const { result } = renderHook(() => useLiveSocket('ws://test/ws', onMessage));
    const socket = MockWebSocket.latest();
    expect(result.current.send({ type: 'refresh' })).toBe(false);
    act(() => socket.open());
    expect(result.current.send({ type: 'refresh' })).toBe(true);
    expect(socket.sent).toEqual([{ type: 'refresh' }]);

    act(() => {
      socket.receive({ type: 'ping' });
      socket.onmessage?.({ data: 'not json' });
    });
    expect(onMessage).toHaveBeenCalledTimes(1);
    expect(onMessage).toHaveBeenCalledWith({ type: 'ping' });
  });

  it('closes the socket and stops reconnecting when unmounted', () => {
    const { unmount } = renderHook(() => useLiveSocket('ws://test/ws', () => {}));
    const socket = MockWebSocket.latest();
    unmount();
    expect(socket.closed).toBe(true);
    act(() => vi.advanceTimersByTime(60000));
    expect(MockWebSocket.instances).toHaveLength(1);
  });
});
