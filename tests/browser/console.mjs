// The web console in headless Chromium (Debian's, through playwright-core; no browser download),
// against a real `logctl serve` over real brokers and aggregated files. Started by test_console.py,
// which prepared the records; its config (JSON file, argv[2]) says where everything is.
// Prints one "ok"/"FAIL" line per check (as tests/e2e/logship_testlib.py does); exit 1 on a failure.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { chromium } = createRequire(join(cfg.node_modules, 'noop.js'))('playwright-core');
const failures = [];

function check(cond, what, detail) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) {
    failures.push(what);
    if (detail !== undefined) console.log(`     | ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  }
  return cond;
}

function section(title) {
  console.log(`\n-- ${title}`);
}

// Sends one record with log_producer (the real program, to the real broker); true when it exited 0.
function produce(message, args = []) {
  const r = spawnSync(cfg.producer, ['--queue', cfg.queue, ...args, message], { env: cfg.env, encoding: 'utf8' });
  check(r.status === 0, `log_producer sends '${message.slice(0, 40)}'`, r.stderr);
  return r.status === 0;
}

// Pipes JSON lines into log_producer --input-format json.
function produceJson(lines) {
  const r = spawnSync(cfg.producer, ['--queue', cfg.queue, '--input-format', 'json'],
    { env: cfg.env, encoding: 'utf8', input: `${lines.join('\n')}\n` });
  check(r.status === 0, `log_producer sends ${lines.length} JSON lines`, r.stderr);
}

async function visible(locator, timeout = 15000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
    return true;
  } catch {
    return false;
  }
}

// Console errors and uncaught exceptions, per page.
const errors = [];
function watch(page) {
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
}
function noErrors(what) {
  check(errors.length === 0, `${what}: no console errors`, errors.slice());
  errors.length = 0;
}

async function shot(page, name) {
  mkdirSync(cfg.screenshots, { recursive: true });
  await page.screenshot({ path: join(cfg.screenshots, `${name}.png`) });
}

const xssInert = (page) => page.evaluate(() => window.__xss === undefined && !document.querySelector('main img'));

async function tokenPrompt(page) {
  section('with --token-file: 401 without the token, one prompt, then the cookie');
  const res = await page.goto(`${cfg.url}/live`);
  check(res.status() === 401, 'a page without the token answers 401', res.status());
  const api = await page.evaluate(async () => {
    const r = await fetch('/api/search?q=x');
    return { status: r.status, body: await r.json() };
  });
  check(api.status === 401 && /token/.test(api.body.error), 'the API without the token answers 401 with an error', api);
  check(await visible(page.getByTestId('token-prompt')), 'the page prompts for the token');
  await page.getByTestId('token-input').fill('wrong-token');
  await page.getByTestId('token-input').press('Enter');
  check(await visible(page.locator('.token-prompt .error')), 'a wrong token is refused, the prompt stays');
  await page.getByTestId('token-input').fill(cfg.token);
  await Promise.all([page.waitForEvent('load'), page.getByTestId('token-input').press('Enter')]);
  check(await visible(page.getByTestId('info')), 'after the token the page loads /api/info');
  errors.length = 0; // the 401s above are expected console errors
}

async function waitLive(page) {
  return visible(page.locator('[data-testid=live-state]', { hasText: 'live' }));
}

async function live(page) {
  section('Live: a record shows within 2 s, filters, pause keeps the list, XSS stays inert');
  await page.goto(`${cfg.url}/live`);
  check(await waitLive(page), 'the live stream is connected');
  const marker = `live-record-${Date.now()}`;
  if (produce(marker, ['--service', 'live-api', '--level', 'warn', '--field', 'user=alice'])) {
    check(await visible(page.getByText(marker), 2000), 'the record shows in Live within 2 s of log_producer exiting');
  }
  for (const x of cfg.xss_records) produce(x.message, ['--service', x.service, '--field', `note=${x.field}`]);
  const last = cfg.xss_records[cfg.xss_records.length - 1];
  check(await visible(page.getByText(last.message, { exact: true })), 'the XSS message shows literally in Live');
  check(await visible(page.getByText(last.service, { exact: true })), 'the XSS service shows literally in Live');
  check(await visible(page.getByText(last.field, { exact: true })), 'the XSS field value shows literally in Live');
  check(await xssInert(page), 'no script ran and no element was made from log text (Live)');
  produceJson(cfg.demo.live);
  check(await page.waitForFunction((n) => document.querySelectorAll('[data-testid=record]').length >= n,
    cfg.demo.live.length + 2).then(() => true, () => false), 'a burst of records shows');
  await shot(page, 'live');
  const list = page.getByTestId('live-records');
  await list.evaluate((el) => { el.scrollTop = 120; });
  await page.getByTestId('pause').click();
  const top = await list.evaluate((el) => el.scrollTop);
  produce(`while-reading-${Date.now()}`);
  check(await visible(page.getByTestId('pending')), 'paused while reading: the new record is counted');
  check(top > 0 && await list.evaluate((el) => el.scrollTop) === top, 'the scroll position stays while paused', top);
  await page.getByTestId('pause').click();
  noErrors('Live');

  await page.goto(`${cfg.url}/live?service=keep-me&level=info`);
  check(await waitLive(page), 'the filtered stream is connected');
  check(await page.locator('input[name=service]').inputValue() === 'keep-me', 'the filter of the URL is in the form');
  const hidden = `hidden-${Date.now()}`;
  const shown = `shown-${Date.now()}`;
  produce(hidden, ['--service', 'drop-me']);
  produce(`${hidden}-debug`, ['--service', 'keep-me', '--level', 'debug']);
  produce(shown, ['--service', 'keep-me']);
  check(await visible(page.getByText(shown)), 'a record that passes the filter shows');
  check(await page.getByText(hidden).count() === 0, 'records of another service or a lower level are hidden');

  await page.getByTestId('pause').click();
  const rows = await page.getByTestId('record').count();
  const paused = `paused-${Date.now()}`;
  produce(paused, ['--service', 'keep-me']);
  check(await visible(page.getByTestId('pending')), 'while paused, new records are counted, not shown');
  check(await page.getByText(paused).count() === 0 && await page.getByTestId('record').count() === rows,
    'while paused the list does not move');
  await page.getByTestId('pause').click();
  check(await visible(page.getByText(paused)), 'resume shows what arrived while paused');
  noErrors('Live with filters');
}

async function searchPage(page) {
  section('Search: a known record, histogram and facets, highlight, context, export, paging, zoom');
  await page.goto(`${cfg.url}/search?q=${encodeURIComponent(cfg.known.q)}`);
  const total = page.getByTestId('search-total');
  check(await visible(page.locator('[data-testid=search-total]', { hasText: 'matching' })), 'the search answers');
  check((await total.textContent()).startsWith(`${cfg.known.total} `), `it finds the ${cfg.known.total} known records`,
    await total.textContent());
  check(await page.getByTestId('histogram-sum').textContent() === String(cfg.known.total),
    'the histogram counts them all', await page.getByTestId('histogram-sum').textContent());
  for (const [facet, value, n] of cfg.known.facets) {
    const row = page.getByTestId(`facet-${facet}`).locator('li', { hasText: value });
    const got = (await row.count()) ? await row.first().getByTestId('facet-count').textContent() : null;
    check(got === String(n), `facet ${facet}: ${value} = ${n}`, got);
  }
  const marks = await page.locator('[data-testid=search-records] mark').allTextContents();
  check(marks.length >= cfg.known.total && marks.every((m) => m === cfg.known.q), 'the matched text is highlighted',
    marks.slice(0, 5));
  await page.locator('.ctx-toggle').first().click();
  check(await visible(page.getByTestId('context').locator('.ctx-hit')), 'context shows the lines around a hit');
  check(await page.getByTestId('context').getByTestId('record').count() > 1, 'with records before or after it');
  const exported = await page.evaluate(async (href) => (await (await fetch(href)).text()).trim().split('\n').length,
    await page.getByText('export NDJSON').getAttribute('href'));
  check(exported === cfg.known.total, 'export NDJSON holds the whole result', exported);
  noErrors('Search');

  await page.goto(`${cfg.url}/search?q=${cfg.demo.q}`);
  check(await visible(page.locator('[data-testid=search-total]', { hasText: `${cfg.demo.total} matching` })),
    `a search over the last hour finds its ${cfg.demo.total} records`, await total.textContent());
  check(await page.getByTestId('histogram-sum').textContent() === String(cfg.demo.total),
    'its histogram over the hour counts them all', await page.getByTestId('histogram-sum').textContent());
  await shot(page, 'search');

  await page.goto(`${cfg.url}/search?service=${encodeURIComponent(cfg.bulk.service)}`);
  check(await visible(page.locator('[data-testid=search-total]', { hasText: `${cfg.bulk.total} matching` })),
    `the bulk search finds ${cfg.bulk.total}`, await total.textContent());
  for (let i = 0; i < 5 && await page.getByTestId('more').count(); i++) {
    const before = await page.getByTestId('record').count();
    await page.getByTestId('more').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=record]').length > n, before);
  }
  check(await page.getByTestId('record').count() === cfg.bulk.total, `paging shows all ${cfg.bulk.total} (past 1,000)`,
    await page.getByTestId('record').count());

  const over = page.locator('[data-testid=histogram] .u-over');
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/from=.*to=/, { timeout: 10000 }).catch(() => {});
  check(/from=.*&to=/.test(page.url()), 'dragging across the histogram puts from/to in the URL', page.url());
  check(await visible(page.locator('[data-testid=search-total]', { hasText: 'matching' })), 'the zoomed search answers');

  await page.goto(`${cfg.url}/search?q=${encodeURIComponent(cfg.xss_q)}`);
  check(await visible(page.getByText(cfg.xss_records[0].message, { exact: true })), 'the XSS message shows literally in Search');
  check(await xssInert(page), 'no script ran and no element was made from log text (Search)');
  await page.goto(`${cfg.url}/search?q=${encodeURIComponent(cfg.terminal.q)}`);
  check(await visible(page.getByText(cfg.terminal.shown, { exact: true })), 'terminal escapes show as \\xHH',
    cfg.terminal.shown);
  noErrors('Search pages');
}

async function queues(page) {
  section('Queues: the queue, charts, dead letters peeked, requeued and deleted');
  await page.goto(`${cfg.url}/queues`);
  check(await visible(page.getByTestId('queue-row').filter({ hasText: cfg.queue })), 'the queue is listed');
  check(await visible(page.getByTestId('chart-depth')), 'with its charts');
  const sampled = await page.waitForFunction(() => Number(document.querySelector('.page.queues')?.dataset.samples) >= 3,
    null, { timeout: 60000 }).then(() => true, () => false);
  check(sampled, 'the page keeps polling (3 samples for the charts)', await page.locator('main').innerText());
  check(await visible(page.locator('[data-testid=dead-ready]', { hasText: String(cfg.dead) })),
    `the dead-letter queue holds ${cfg.dead}`);
  await page.getByTestId('dead-peek').click();
  check(await visible(page.getByTestId('dead-messages').getByTestId('record')), 'peek shows the dead letters');
  check(await page.getByTestId('dead-messages').getByTestId('record').count() === cfg.dead, `all ${cfg.dead} of them`);
  await shot(page, 'queues');
  await page.getByTestId('dead-requeue').click();
  await page.getByTestId('dead-confirm').click();
  check(await visible(page.locator('[data-testid=dead-result]', { hasText: 'requeued 1' })), 'requeue 1 (with the CSRF header)');
  check(await visible(page.locator('[data-testid=dead-ready]', { hasText: String(cfg.dead - 1) })),
    `then the dead-letter queue holds ${cfg.dead - 1}`);
  await page.getByTestId('dead-delete').click();
  await page.getByTestId('dead-confirm').click();
  check(await visible(page.locator('[data-testid=dead-result]', { hasText: `deleted ${cfg.dead - 1}` })),
    'delete all removes the rest');
  noErrors('Queues');
  const forged = await page.evaluate(async () => (await fetch('/api/dead/delete', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"count":1}' })).status);
  check(forged === 403, 'a POST without the CSRF header is refused (403)', forged);
  errors.length = 0; // that 403 is logged by the browser
}

async function pipeline(page) {
  section('Pipeline: a running aggregator green, a target that is down red');
  await page.goto(`${cfg.url}/pipeline`);
  const target = (url) => page.getByTestId('target').filter({ hasText: url });
  check(await visible(target(cfg.up_target)), 'the aggregator is listed');
  check(await visible(target(cfg.down_target)), 'the target that is down is listed');
  check(await target(cfg.up_target).getAttribute('data-ok') === 'true', 'the running aggregator is green');
  check(await target(cfg.down_target).getAttribute('data-ok') === 'false', 'the target that is down is red');
  await shot(page, 'pipeline');
  noErrors('Pipeline');
}

const browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
  watch(page);
  page.setDefaultTimeout(15000);
  await tokenPrompt(page);
  for (const step of [live, searchPage, queues, pipeline]) {
    try {
      await step(page);
    } catch (e) {
      check(false, `${step.name} ran to its end`, String(e.stack ?? e));
    }
  }
} finally {
  await browser.close();
}
console.log(`\n${failures.length ? `FAILED: ${failures.length} check(s)` : 'all checks passed'}`);
process.exit(failures.length ? 1 : 0);
