// Pipeline: each --metrics-target (producer or aggregator): up/down, records/s in and out, spool and
// held bytes, errors, the last error; red when it is down or unhealthy (its /healthz), else green.
import { useState } from 'preact/hooks';
import { POLL_MS, usePoll } from '../poll.js';

function bytes(n) {
  if (typeof n !== 'number') return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function num(n) {
  return typeof n === 'number' ? (Number.isInteger(n) ? String(n) : n.toFixed(1)) : '–';
}

export function targetOk(t) {
  return Boolean(t.up && t.healthy);
}

function Target({ t }) {
  const ok = targetOk(t);
  return (
    <div class={`target ${ok ? 'ok' : 'bad'}`} data-testid="target" data-ok={String(ok)}>
      <h3><span class="dot" />{t.url}</h3>
      <dl>
        <dt>state</dt><dd>{t.up ? (t.healthy ? 'healthy' : `unhealthy: ${t.health_reason}`) : `down${t.health_reason ? `: ${t.health_reason}` : ''}`}</dd>
        <dt>role</dt><dd>{t.role}</dd>
        <dt>records/s in</dt><dd>{num(t.records_in_per_s)}</dd>
        <dt>records/s out</dt><dd>{num(t.records_out_per_s)}</dd>
        <dt>spool</dt><dd>{bytes(t.spool_bytes)}</dd>
        <dt>held</dt><dd>{bytes(t.held_bytes)}</dd>
        <dt>errors</dt><dd>{num(t.errors)}</dd>
        <dt>last error</dt><dd class="last-error">{t.last_error || '–'}</dd>
      </dl>
    </div>
  );
}

export function PipelinePage() {
  const [data, setData] = useState(null);
  const error = usePoll('/api/pipeline', POLL_MS, setData);
  const targets = data?.targets ?? [];
  const bad = targets.filter((t) => !targetOk(t)).length;
  return (
    <section class="page pipeline">
      {error && <p class="error" data-testid="error">{error}</p>}
      {data && (
        <p class={`summary ${bad ? 'bad' : 'ok'}`} data-testid="pipeline-summary">
          {targets.length === 0 ? 'no --metrics-target given' : bad ? `${bad} of ${targets.length} targets need attention` : `all ${targets.length} targets healthy`}
        </p>
      )}
      <div class="targets">{targets.map((t) => <Target key={t.url} t={t} />)}</div>
    </section>
  );
}
