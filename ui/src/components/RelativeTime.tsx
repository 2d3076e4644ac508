import { useNow } from '../hooks/useNow';
import { formatRelative, toDate } from '../format';

/**
 * A moment given in epoch seconds, as "12 s ago" (or "in 40 s"), kept fresh;
 * the exact time is in the tooltip. `fallback` is shown when there is none.
 */
export default function RelativeTime({ seconds, fallback = null }: { seconds: number | null; fallback?: React.ReactNode }) {
  // The tick may be up to 5 s old; a moment stamped since then must not read as "in the future".
  const now = Math.max(useNow(5000), Date.now());
  const date = toDate(seconds);
  if (!date) return <>{fallback}</>;
  return (
    <time dateTime={date.toISOString()} title={date.toLocaleString()}>
      {formatRelative(date, now)}
    </time>
  );
}
