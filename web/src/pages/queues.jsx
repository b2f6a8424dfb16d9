// Queues: depth, rates and consumers per queue (and per shard), polled every POLL_MS (poll.js); the page keeps
// the last HISTORY samples for its charts. The dead-letter queue: peek, requeue, delete.
import { useState } from 'preact/hooks';
import { getJson, postJson } from '../api.js';
import { Chart, linesOpts } from '../chart.jsx';
import { POLL_MS, usePoll } from '../poll.js';
import { RecordRow } from '../records.jsx';

const HISTORY = 200; // 10 minutes at 3 s

function rate(v) {
  return typeof v === 'number' ? v.toFixed(1) : '–';
}

function QueueRow({ q, shard }) {
  return (
    <tr class={shard ? 'shard' : ''} data-testid="queue-row">
      <td>{shard ? `↳ ${q.name}` : q.name}</td>
      <td>{q.type}</td>
      <td class="num">{q.ready}</td>
      <td class="num">{q.unacked}</td>
      <td class="num">{q.consumers}</td>
      <td class="num">{rate(q.publish_rate)}</td>
      <td class="num">{rate(q.deliver_rate)}</td>
    </tr>
  );
}

function QueueTable({ queues }) {
  return (
    <table class="grid" data-testid="queues-table">
      <thead>
        <tr><th>queue</th><th>type</th><th>ready</th><th>unacked</th><th>consumers</th><th>publish/s</th><th>deliver/s</th></tr>
      </thead>
      <tbody>
        {queues.flatMap((q) => [<QueueRow key={q.name} q={q} />,
          ...(q.shards ?? []).map((s) => <QueueRow key={`${q.name}/${s.name}`} q={s} shard />)])}
      </tbody>
    </table>
  );
}

// [xs, ys per key] of one queue over the kept samples.
function series(history, name, keys) {
  const xs = history.map((h) => h.time_ms / 1000);
  const ys = keys.map((k) => history.map((h) => h.byName[name]?.[k] ?? null));
  return [xs, ...ys];
}

function QueueCharts({ history, name }) {
  return (
    <div class="queue-charts">
      <h3>{name}</h3>
      <div class="chart-pair">
        <Chart makeOpts={linesOpts('depth', ['ready', 'unacked'])} data={series(history, name, ['ready', 'unacked'])} testid="chart-depth" />
        <Chart makeOpts={linesOpts('messages/s', ['publish/s', 'deliver/s'])} data={series(history, name, ['publish_rate', 'deliver_rate'])} testid="chart-rates" />
      </div>
    </div>
  );
}

// Requeue the first N; delete removes them all (the brokers delete a dead-letter queue whole).
function DeadActions({ ready, onDone }) {
  const [count, setCount] = useState('1');
  const [confirm, setConfirm] = useState(null);
  const [result, setResult] = useState(null);
  const actions = {
    requeue: { ask: `requeue the first ${count} of ${ready}?`, count: () => Number(count), done: 'requeued' },
    delete: { ask: `delete all ${ready} dead letters?`, count: () => ready, done: 'deleted' },
  };
  const run = async (name) => {
    setConfirm(null);
    try {
      const r = await postJson(`/api/dead/${name}`, { count: actions[name].count() });
      setResult(`${actions[name].done} ${r.done}`);
    } catch (e) {
      setResult(e.message);
    }
    onDone();
  };
  return (
    <div class="dead-actions">
      <label>count <input type="number" min="1" value={count} onInput={(e) => setCount(e.currentTarget.value)} data-testid="dead-count" /></label>
      {confirm ? (
        <span class="confirm">
          {actions[confirm].ask}
          <button type="button" class="danger" onClick={() => run(confirm)} data-testid="dead-confirm">Yes</button>
          <button type="button" onClick={() => setConfirm(null)}>No</button>
        </span>
      ) : (
        <span>
          <button type="button" onClick={() => setConfirm('requeue')} data-testid="dead-requeue">Requeue…</button>
          <button type="button" class="danger" onClick={() => setConfirm('delete')} data-testid="dead-delete" disabled={!ready}>Delete all…</button>
        </span>
      )}
      {result && <span class="result" data-testid="dead-result">{result}</span>}
    </div>
  );
}

function DeadLetters({ dead }) {
  const [peek, setPeek] = useState(null);
  const load = () => getJson('/api/dead', { limit: 20 }).then((r) => setPeek(r), (e) => setPeek({ error: e.message }));
  if (!dead) return null;
  return (
    <div class="dead" data-testid="dead">
      <h2>Dead letters: <span>{dead.name}</span> <span class="num" data-testid="dead-ready">{dead.ready}</span> ready</h2>
      <button type="button" onClick={load} data-testid="dead-peek">Peek</button>
      <DeadActions ready={dead.ready} onDone={load} />
      {peek?.error && <p class="error">{peek.error}</p>}
      {peek?.messages && (
        <div class="records" data-testid="dead-messages">
          {peek.messages.length === 0 && <p class="empty">empty</p>}
          {peek.messages.map((m) => (
            <RecordRow key={m.index} rec={m.record}><span class="reason">{m.reason}</span></RecordRow>
          ))}
        </div>
      )}
    </div>
  );
}

export function QueuesPage() {
  const [history, setHistory] = useState([]);
  const error = usePoll('/api/queues', POLL_MS, (data) => {
    const byName = {};
    for (const q of data.queues) byName[q.name] = q;
    setHistory((h) => h.concat([{ ...data, byName }]).slice(-HISTORY));
  });
  const last = history[history.length - 1];
  return (
    <section class="page queues" data-samples={history.length}>
      {error && <p class="error" data-testid="error">{error}</p>}
      {!last && !error && <p class="empty">loading…</p>}
      {last && <QueueTable queues={last.queues} />}
      {last && <DeadLetters dead={last.dead} />}
      {last && last.queues.map((q) => <QueueCharts key={q.name} history={history} name={q.name} />)}
    </section>
  );
}
