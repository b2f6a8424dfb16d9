// The filter bar of Live and Search: its values come from the URL and go back into it on submit.
import { useEffect, useState } from 'preact/hooks';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function TextInput({ name, label, value, onInput, placeholder, type = 'text' }) {
  return (
    <label class="filter">
      <span>{label}</span>
      <input type={type} name={name} value={value ?? ''} placeholder={placeholder}
        onInput={(e) => onInput(name, e.currentTarget.value)} />
    </label>
  );
}

// params: the URL's values; withTime: the from/to inputs (Search); onApply(newParams).
export function Filters({ params, withTime, onApply, children }) {
  const [draft, setDraft] = useState(params);
  const key = JSON.stringify(params);
  useEffect(() => setDraft(params), [key]);
  const set = (name, value) => setDraft((d) => ({ ...d, [name]: value }));
  const submit = (e) => {
    e.preventDefault();
    onApply(draft);
  };
  return (
    <form class="filters" onSubmit={submit}>
      <TextInput name="q" label="Query" value={draft.q} onInput={set} placeholder="regex, as grep -E" />
      <label class="filter">
        <span>Level ≥</span>
        <select name="level" value={draft.level ?? ''} onChange={(e) => set('level', e.currentTarget.value)}>
          <option value="">any</option>
          {LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
        </select>
      </label>
      <TextInput name="service" label="Service" value={draft.service} onInput={set} />
      <TextInput name="host" label="Host" value={draft.host} onInput={set} />
      {withTime && <TextInput name="from" label="From" value={draft.from} onInput={set} placeholder="RFC 3339 or ms" />}
      {withTime && <TextInput name="to" label="To" value={draft.to} onInput={set} placeholder="RFC 3339 or ms" />}
      <button type="submit">Apply</button>
      {children}
    </form>
  );
}

export function pick(params, names) {
  const out = {};
  for (const n of names) if (params[n]) out[n] = params[n];
  return out;
}
