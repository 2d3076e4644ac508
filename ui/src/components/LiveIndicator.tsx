import { LoaderCircle, Wifi, WifiOff } from 'lucide-react';
import type { LiveState } from '../hooks/useLiveSocket';
import { formatInterval } from '../format';
import './LiveIndicator.css';

const LABELS: Record<LiveState, string> = {
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
};

function _description(state: LiveState, pollMs: number | null): string {
  if (state === 'live') return 'Live updates are on: status changes appear as they happen.';
  const polling = pollMs ? ` Status is refreshed every ${formatInterval(pollMs)} meanwhile.` : '';
  if (state === 'connecting') return `Connecting to live updates.${polling}`;
  return `Live updates dropped; reconnecting.${polling}`;
}

/** Whether the live socket is open ("live") or being (re)established, and what happens meanwhile. */
export default function LiveIndicator({ state, pollMs = null }: { state: LiveState; pollMs?: number | null }) {
  const Icon = state === 'live' ? Wifi : state === 'reconnecting' ? WifiOff : LoaderCircle;
  return (
    <span className={`live-indicator ${state}`} data-testid="live-indicator" data-state={state} role="status" title={_description(state, pollMs)}>
      <Icon size={14} className={state === 'connecting' ? 'spin' : undefined} />
      <span>{LABELS[state]}</span>
    </span>
  );
}
