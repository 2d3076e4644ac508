import { ChevronDown, ChevronRight } from 'lucide-react';
import type { RequestEntry } from '../api/types';
import { agentName, formatLatency, toDate } from '../format';
import './RequestRow.css';

/** The outcome's colour: served, served by a fallback, failed (an outcome this page does not know stays plain). */
const OUTCOME_TONES: Record<string, string> = { ok: 'tone-healthy', fallback: 'tone-warning', error: 'tone-danger' };

function _time(entry: RequestEntry): string {
  return toDate(entry.time)?.toLocaleTimeString() ?? '—';
}

function _tokens(entry: RequestEntry): string {
  if (entry.tokens_in === null && entry.tokens_out === null) return '—';
  return `${entry.tokens_in ?? '?'} → ${entry.tokens_out ?? '?'}`;
}

/** The attempts and timings of one request, shown under its row. */
function RequestDetail({ entry }: { entry: RequestEntry }) {
  const facts: [string, string][] = [
    ['Request id', entry.id],
    ['Surface', entry.surface ?? '—'],
    ['Asked for', entry.requested_model ?? '—'],
    ['Served by', entry.backend ? `${entry.backend} (${entry.model ?? '?'})${entry.substituted ? ', an equivalent' : ''}` : 'nobody'],
    ['Status', entry.status !== null ? String(entry.status) : '—'],
    ...(entry.reason ? ([['Reason', entry.reason]] as [string, string][]) : []),
    ['Added by Atmosphere', formatLatency(entry.added_ms) ?? '—'],
    ['Upstream', formatLatency(entry.upstream_ms) ?? '—'],
    ['Time to first token', formatLatency(entry.ttft_ms) ?? '—'],
    ['Tokens in → out', _tokens(entry)],
    ['Streamed', entry.stream === null ? '—' : entry.stream ? 'yes' : 'no'],
    ['Client', entry.client ?? '—'],
    ['Agent', entry.agent ?? '—'],
  ];
  return (
    <div className="inset request-detail" data-testid="request-detail">
      <h3>Attempts before the one that served</h3>
      {entry.attempts.length ? (
        <ol className="request-attempts">
          {entry.attempts.map((attempt, index) => (
            <li key={`${index}:${attempt.backend}`} data-testid="request-attempt">
              <code>{attempt.backend}</code> <span className="request-attempt-kind">{attempt.kind}</span> {attempt.reason}
            </li>
          ))}
        </ol>
      ) : (
        <p className="request-detail-none">None: the first choice served it.</p>
      )}
      <dl className="request-facts">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

interface Props {
  entry: RequestEntry;
  open: boolean;
  onToggle: (id: string) => void;
}

/** One request in the log: a summary row that opens its detail. */
export default function RequestRow({ entry, open, onToggle }: Props) {
  const Chevron = open ? ChevronDown : ChevronRight;
  const detailId = `request-${entry.id}-detail`;
  return (
    <>
      <tr className={`request-row outcome-${entry.outcome ?? 'unknown'}`} data-testid="request-row" data-id={entry.id} data-outcome={entry.outcome ?? ''}>
        <td>
          <button type="button" className="request-open" aria-expanded={open} aria-controls={detailId} onClick={() => onToggle(entry.id)} aria-label={`Details of request ${entry.id}`}>
            <Chevron size={14} />
            {_time(entry)}
          </button>
        </td>
        <td className="request-col-surface">{entry.surface ?? '—'}</td>
        <td className="request-model">
          <code>{entry.requested_model ?? '—'}</code>
          {entry.model && entry.model !== entry.requested_model ? (
            <span className="request-native">
              → <code>{entry.model}</code>
              {entry.substituted ? ' (equivalent)' : ''}
            </span>
          ) : null}
        </td>
        <td data-testid="request-backend">{entry.backend ?? '—'}</td>
        <td>
          <span className={`badge request-outcome ${entry.outcome ?? 'unknown'} ${OUTCOME_TONES[entry.outcome ?? ''] ?? ''}`}>{entry.outcome ?? '—'}</span>
          {entry.status !== null ? <span className="request-status">{entry.status}</span> : null}
          {entry.reason ? (
            // Why it failed or was refused, and which tool sent it: what an operator needs
            // to see to tell why Claude Code or Codex was turned away, without opening the row.
            <span className="request-why">
              <span className="request-reason" data-testid="request-reason" title={entry.reason}>
                {entry.reason}
              </span>
              {entry.agent ? (
                <span className="request-agent" data-testid="request-agent" title={entry.agent}>
                  from <code>{agentName(entry.agent)}</code>
                </span>
              ) : null}
            </span>
          ) : null}
        </td>
        <td className="request-col-timing">{formatLatency(entry.ttft_ms) ?? '—'}</td>
        <td className="request-col-timing">{formatLatency(entry.added_ms) ?? '—'}</td>
        <td className="request-col-tokens">{_tokens(entry)}</td>
      </tr>
      {open ? (
        <tr className="request-detail-row" id={detailId}>
          <td colSpan={8}>
            <RequestDetail entry={entry} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
