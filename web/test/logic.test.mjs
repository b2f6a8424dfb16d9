// The console's pure logic under plain node (ctest console_logic, label unit): node --test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { highlightPieces, histogramData, ringAppend, showControls } from '../src/logic.js';

const text = (pieces) => pieces.map((p) => (p.hit ? `[${p.text}]` : p.text)).join('');

test('highlight: byte ranges of the match, in order, past multi-byte characters', () => {
  assert.equal(text(highlightPieces('a timeout b timeout', [[2, 9], [12, 19]])), 'a [timeout] b [timeout]');
  // "café " is 6 bytes: the match "x" starts at byte 6, not at character 6.
  assert.equal(text(highlightPieces('café x', [[6, 7]])), 'café [x]');
  assert.equal(text(highlightPieces('ab', [[1, 2], [0, 1]])), '[a][b]');
});

test('highlight: no ranges, empty, past the end and overlapping ranges', () => {
  assert.deepEqual(highlightPieces('plain', []), [{ text: 'plain', hit: false }]);
  assert.deepEqual(highlightPieces('plain', undefined), [{ text: 'plain', hit: false }]);
  assert.equal(text(highlightPieces('abc', [[1, 99]])), 'a[bc]');
  assert.equal(text(highlightPieces('abcdef', [[1, 4], [2, 5]])), 'a[bcd][e]f');
  assert.equal(text(highlightPieces('abc', [[2, 2]])), 'abc');
});

test('highlight: HTML stays text', () => {
  const m = '<img src=x onerror=alert(1)>';
  assert.equal(highlightPieces(m, [[1, 4]]).map((p) => p.text).join(''), m);
});

test('ring buffer: bounded, oldest out first, counts what fell out', () => {
  let [ring, drop] = ringAppend([], [1, 2, 3], 5);
  assert.deepEqual([ring, drop], [[1, 2, 3], 0]);
  [ring, drop] = ringAppend(ring, [4, 5, 6, 7], 5);
  assert.deepEqual([ring, drop], [[3, 4, 5, 6, 7], 2]);
  [ring, drop] = ringAppend(ring, Array.from({ length: 12 }, (_, i) => 100 + i), 5);
  assert.deepEqual([ring, drop], [[107, 108, 109, 110, 111], 12]);
});

test('histogram: one x (seconds) per bucket', () => {
  assert.deepEqual(histogramData({ from: 10000, to: 13000, bucket_ms: 1000, counts: [1, 0, 2] }),
    [[10, 11, 12], [1, 0, 2]]);
  assert.deepEqual(histogramData(undefined), [[], []]);
});

test('control characters show as \\xHH, tabs and newlines stay', () => {
  assert.equal(showControls('a\x1b[2Jb'), 'a\\x1b[2Jb');
  assert.equal(showControls('\x00\r\x7f'), '\\x00\\x0d\\x7f');
  assert.equal(showControls('tab\there\nnext'), 'tab\there\nnext');
  assert.equal(showControls('café <b>'), 'café <b>');
});
