// The console's pure logic (no DOM, no Preact): tested by web/test/logic.test.mjs under plain node.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The server's match ranges are byte offsets into the UTF-8 message: split it into
// [{text, hit}] pieces (ranges sorted, clamped, overlaps merged).
export function highlightPieces(message, ranges) {
  if (!ranges || ranges.length === 0) return [{ text: message, hit: false }];
  const bytes = encoder.encode(message);
  const pieces = [];
  let at = 0;
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (const [rawStart, rawEnd] of sorted) {
    const start = Math.max(at, Math.min(rawStart, bytes.length));
    const end = Math.max(start, Math.min(rawEnd, bytes.length));
    if (end === start) continue;
    if (start > at) pieces.push({ text: decoder.decode(bytes.subarray(at, start)), hit: false });
    pieces.push({ text: decoder.decode(bytes.subarray(start, end)), hit: true });
    at = end;
  }
  if (at < bytes.length) pieces.push({ text: decoder.decode(bytes.subarray(at)), hit: false });
  return pieces;
}

// Appends to a ring of at most `size`; returns the new array and how many old ones fell out.
export function ringAppend(ring, items, size) {
  const all = ring.concat(items);
  const drop = Math.max(0, all.length - size);
  return [drop ? all.slice(drop) : all, drop];
}

// uPlot's data of the search histogram: [x in seconds, counts].
export function histogramData(h) {
  if (!h || !h.counts) return [[], []];
  const xs = h.counts.map((_, i) => (h.from + i * h.bucket_ms) / 1000);
  return [xs, h.counts];
}


// Control characters (a terminal escape's ESC, a NUL, a CR) shown as \xHH, as logctl prints them:
// visible, and never acting on anything. Tabs and newlines stay.
export function showControls(text) {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
