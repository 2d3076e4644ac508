import { LoaderCircle, Wifi, WifiOff } from 'lucide-react';
import './LiveIndicator.css';

const LABELS = {
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
};

const DESCRIPTIONS = {
  live: 'Live updates are on: status changes appear as they happen.',
  connecting: 'Connecting to live updates.',
  reconnecting: 'Live updates dropped; reconnecting. Status is still refreshed every 30 seconds.',
};

/** Whether the status socket is open ("live") or being (re)established. */
export default function LiveIndicator({ state }) {
  const Icon = state === 'live' ? Wifi : state === 'reconnecting' ? WifiOff : LoaderCircle;
  return (
    <span className={`live-indicator ${state}`} data-testid="live-indicator" data-state={state} role="status" title={DESCRIPTIONS[state]}>
      <Icon size={14} className={state === 'connecting' ? 'spin' : undefined} />
      <span>{LABELS[state] ?? state}</span>
    </span>
  );
}
