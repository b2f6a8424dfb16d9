// One log record as a row. Every piece of log text is a JSX text child (Preact sets textContent), never
// HTML: a message like `<img src=x onerror=...>` shows literally and runs nothing.
import { highlightPieces, showControls } from './logic.js';

function Message({ text, match }) {
  return (
    <span class="msg">
      {highlightPieces(text ?? '', match).map((p, i) => (p.hit ? <mark key={i}>{showControls(p.text)}</mark> : showControls(p.text)))}
    </span>
  );
}

function fieldText(value) {
  return showControls(typeof value === 'string' ? value : JSON.stringify(value));
}

export function Fields({ fields }) {
  const entries = Object.entries(fields ?? {});
  if (entries.length === 0) return null;
  return (
    <span class="fields">
      {entries.map(([k, v]) => (
        <span class="field" key={k}>
          <span class="fk">{k}</span>=<span class="fv">{fieldText(v)}</span>
        </span>
      ))}
    </span>
  );
}

export function levelClass(level) {
  return `lvl lvl-${/^[a-z]+$/.test(level ?? '') ? level : 'other'}`;
}

export function RecordRow({ rec, children, class: extra }) {
  return (
    <div class={`rec ${extra ?? ''}`} data-testid="record">
      <span class="time" title={rec.time}>{rec.time}</span>
      <span class={levelClass(rec.level)}>{rec.level}</span>
      <span class="svc">{rec.service}</span>
      <span class="host">{rec.host}</span>
      <Message text={rec.message} match={rec.match} />
      <Fields fields={rec.fields} />
      {children}
    </div>
  );
}
