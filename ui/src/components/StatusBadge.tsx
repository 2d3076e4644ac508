import { CircleCheck, CircleHelp, CircleX, TriangleAlert, type LucideIcon } from 'lucide-react';
import { KNOWN_STATUSES, type KnownStatus } from '../api/types';
import './StatusBadge.css';

const ICONS: Record<KnownStatus, LucideIcon> = {
  healthy: CircleCheck,
  degraded: TriangleAlert,
  offline: CircleX,
  error: TriangleAlert,
};

const TONES: Record<KnownStatus, string> = {
  healthy: 'tone-healthy',
  degraded: 'tone-warning',
  offline: 'tone-danger',
  error: 'tone-error',
};

function _known(word: string): word is KnownStatus {
  return (KNOWN_STATUSES as readonly string[]).includes(word);
}

/**
 * The integration's status as the API reports it: an icon, a colour and the
 * status word itself (never colour alone). Unknown words are shown verbatim.
 */
export default function StatusBadge({ status }: { status: string }) {
  const word = status || 'unknown';
  const known = _known(word);
  const Icon = known ? ICONS[word] : CircleHelp;
  return (
    <span className={`badge integration-status ${known ? `${word} ${TONES[word]}` : 'unknown tone-muted'}`} data-testid="status-badge" data-status={word}>
      <Icon size={16} />
      <span className="integration-status-word">{word}</span>
    </span>
  );
}
