import type { ServedBy } from '../api/chat';
import type { StreamStats } from '../hooks/useChat';
import { formatLatency } from '../format';
import './ServedInfo.css';

/** Who served the last answer (from the gateway's headers), what was tried first, and how fast it streamed. */
export default function ServedInfo({ served, stats }: { served: ServedBy | null; stats: StreamStats | null }) {
  if (!served && !stats) return null;
  return (
    <section className="served-info" aria-label="How the last answer was served" data-testid="served-info">
      {served ? (
        <p>
          Served by <strong data-testid="chat-backend">{served.backend ?? 'unknown'}</strong>
          {served.model ? (
            <>
              {' '}
              as <code data-testid="chat-model">{served.model}</code>
            </>
          ) : null}
          {served.substituted ? ' (an equivalent model)' : null}
        </p>
      ) : null}
      {served && served.attempts.length ? (
        <div className="served-fallback" data-testid="chat-attempts">
          Fell back after:
          <ul>
            {served.attempts.map((attempt, index) => (
              <li key={`${index}:${attempt}`}>{attempt}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {stats ? (
        <p className="served-stats">
          <span data-testid="chat-tps">{stats.tokensPerSecond !== null ? `${stats.tokensPerSecond.toFixed(1)} tokens/s` : '— tokens/s'}</span>
          <span title={stats.tokensCounted === 'usage' ? 'as the gateway counted them' : 'one per streamed chunk'}>
            {stats.tokens} {stats.tokens === 1 ? 'token' : 'tokens'}
          </span>
          <span data-testid="chat-ttft">first token {formatLatency(stats.ttftMs) ?? '—'}</span>
          {stats.finishReason ? <span>finished: {stats.finishReason}</span> : null}
        </p>
      ) : null}
    </section>
  );
}
