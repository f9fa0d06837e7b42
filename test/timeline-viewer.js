// test/timeline-viewer.js TRACE.json [SCREENSHOT.png]: open a GODEBUG=gctracefile timeline in
// a real viewer and compare what it imported with what the file holds.
//
// The viewer is the Performance panel of the DevTools that Debian's Chromium bundles
// (devtools://devtools/bundled/trace_app.html, driven headless by playwright-core from npm):
//  1. the panel's trace engine (models/trace, the code "Load trace..." runs) parses the
//     events inside that page; per thread, the entries it imported must be the file's
//     complete events on that thread, each placed in the thread's nesting tree (an entry
//     left out of the tree is one the viewer found overlapping its parent), and the
//     thread names the file's;
//  2. the file is loaded through the panel's own "Load trace..." button and the page is
//     screenshotted (SCREENSHOT, for a person to look at).
// chrome://tracing (catapult) is gone from Chromium 156 (net::ERR_FAILED even with internal
// pages enabled), and Perfetto's UI is neither on npm nor reachable here.
// Exit 0 and an "imported" line when everything matches; 1 with FAIL lines otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const pw = process.env.GCRT_PLAYWRIGHT ? path.resolve(process.env.GCRT_PLAYWRIGHT) : 'playwright-core';
const { chromium } = require(pw);

const file = path.resolve(process.argv[2]);
const shot = process.argv[3];
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
const want = new Map(), names = new Map();
let nx = 0, nc = 0, nm = 0;
for (const e of doc.traceEvents) {
  if (e.ph === 'X') { nx++; want.set(e.tid, (want.get(e.tid) || 0) + 1); }
  else if (e.ph === 'C') nc++;
  else if (e.ph === 'M') { nm++; if (e.name === 'thread_name') names.set(e.tid, e.args.name); }
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const version = browser.version();
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto('devtools://devtools/bundled/trace_app.html', { timeout: 60000 });
  const got = await page.evaluate(async (events) => {
    const T = await import('./models/trace/trace.js');
    const model = T.TraceModel.Model.createWithAllHandlers();
    await model.parse(events);
    const R = model.parsedTrace(0).data.Renderer;
    const threads = [];
    for (const [pid, proc] of R.processes)
      for (const [tid, th] of proc.threads) {
        let untreed = 0;
        for (const e of th.entries) if (!R.entryToNode.has(e)) untreed++;
        threads.push({ pid, tid, name: th.name, entries: th.entries.length, untreed });
      }
    return threads;
  }, doc.traceEvents);
  const fails = [];
  let imported = 0;
  for (const t of got) {
    imported += t.entries;
    if (t.entries !== (want.get(t.tid) || 0)) fails.push(`thread ${t.tid} (${t.name}): viewer ${t.entries} entries, file ${want.get(t.tid) || 0}`);
    if (t.untreed) fails.push(`thread ${t.tid} (${t.name}): ${t.untreed} entries not nested in the viewer's tree`);
    if (names.get(t.tid) !== t.name) fails.push(`thread ${t.tid}: viewer names it "${t.name}", file "${names.get(t.tid)}"`);
  }
  for (const tid of want.keys()) if (!got.some(t => t.tid === tid)) fails.push(`thread ${tid}: no track in the viewer`);
  if (imported !== nx) fails.push(`viewer imported ${imported} complete events, the file has ${nx}`);

  // The button's waits get the page load's 60 s: beside two CPU hogs and other work (load
  // 19, make test-repeat's loaded-3 at 73b03b9) the file chooser had not opened after 20 s.
  if (shot) {   // through the panel's own button, as a person would
    await page.goto('devtools://devtools/bundled/trace_app.html?panel=timeline', { timeout: 60000 });
    await page.waitForTimeout(2000);
    await page.keyboard.press('Escape');
    const chooser = page.waitForEvent('filechooser', { timeout: 60000 });
    await page.locator('[aria-label="Load trace…"]').first().click({ timeout: 60000 });
    await (await chooser).setFiles(file);
    await page.waitForTimeout(5000);
    await page.keyboard.press('Escape');
    await page.mouse.click(250, 128);   // the process track's header: expand its threads
    await page.waitForTimeout(1500);
    await page.screenshot({ path: shot });
  }
  await browser.close();
  for (const f of fails) console.log('FAIL: ' + f);
  console.log(`${fails.length ? 'FAIL' : 'ok'}: DevTools Performance panel of Chromium ${version} imported ${imported} of ${nx} complete events ` +
    `on ${got.length} thread tracks (file: ${doc.traceEvents.length} events, ${nc} counter, ${nm} metadata)` + (shot ? `; screenshot ${shot}` : ''));
  process.exit(fails.length ? 1 : 0);
})().catch(e => { console.log('FAIL: ' + e.message); process.exit(1); });
