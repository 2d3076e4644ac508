import { CircleCheck, CircleHelp, CircleX, TriangleAlert } from 'lucide-react';
import './StatusBadge.css';

const ICONS = { healthy: CircleCheck, offline: CircleX, error: TriangleAlert };

/**
 * The integration's status as the API reports it: an icon, a colour and the
 * status word itself (never colour alone). Unknown words are shown verbatim.
 */
export default function StatusBadge({ status }) {
  const word = typeof status === 'string' && status ? status : 'unknown';
  const known = Object.prototype.hasOwnProperty.call(ICONS, word);
  const Icon = known ? ICONS[word] : CircleHelp;
  return (
    <span className={`integration-status ${known ? word : 'unknown'}`} data-testid="status-badge" data-status={word}>
      <Icon size={16} />
      <span className="integration-status-word">{word}</span>
    </span>
  );
}
