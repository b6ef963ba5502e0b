// Opens cvpipe's status page in headless Chromium (Debian's, through playwright-core) and checks
// what a person would see: the stage table with the config's stages, a preview image that
// updates, the config, the daemon's pid and version, links to the other endpoints.
// Usage: node status_page.mjs URL STAGE[,STAGE...] SCREENSHOT.png PID
// Prints "ok ..." and exits 0, or prints why and exits 1. Every wait is bounded.
import { chromium } from "playwright-core";

const [url, stageList, screenshot, pid] = process.argv.slice(2);
const stages = stageList.split(",");
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
                                        args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { timeout: 15000 });
  // The stage table fills from /status.json.
  await page.waitForFunction((n) => document.querySelectorAll("#stages tbody tr.stage").length === n, stages.length,
                             { timeout: 15000 });
  const names = await page.$$eval("#stages tbody tr.stage td:first-child", (tds) => tds.map((td) => td.textContent));
  if (JSON.stringify(names) !== JSON.stringify(stages)) throw new Error(`stages ${names} != ${stages}`);
  // It updates live: two more refreshes.
  const updates = Number(await page.evaluate(() => document.body.dataset.updates));
  await page.waitForFunction((u) => Number(document.body.dataset.updates) >= u + 2, updates, { timeout: 10000 });
  // The preview: a decoded image, and a different frame later.
  await page.waitForFunction(() => Number(document.getElementById("preview").dataset.frames) >= 1 &&
                                   document.getElementById("preview").naturalWidth > 0, null, { timeout: 15000 });
  // It never blanks between frames: sampled every few ms for two seconds, the shown preview is
  // always a decoded image.
  const blank = await page.evaluate(async () => {
    let samples = 0, blank = 0;
    for (const end = performance.now() + 2000; performance.now() < end; ++samples) {
      const img = document.getElementById("preview");
      if (!img.complete || img.naturalWidth === 0) ++blank;
      await new Promise((r) => setTimeout(r, 2));
    }
    return { samples, blank };
  });
  if (blank.blank > 0) throw new Error(`the preview was blank in ${blank.blank} of ${blank.samples} samples`);
  const pixels = () => page.evaluate(() => {
    const img = document.getElementById("preview");
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
    return { frames: Number(img.dataset.frames), hash: h, width: img.naturalWidth };
  });
  const first = await pixels();
  let later = first;
  for (let i = 0; i < 50 && (later.frames < first.frames + 2 || later.hash === first.hash); ++i) {
    await page.waitForTimeout(100);
    later = await pixels();
  }
  if (later.hash === first.hash) throw new Error(`the preview did not change (${first.frames} -> ${later.frames} frames)`);
  const process_ = await page.textContent("#process");
  if (!process_.includes(`pid: ${pid}`) || !/version: \d+\.\d+\.\d+/.test(process_))
    throw new Error(`the page does not name the daemon (pid ${pid}): ${process_}`);
  const links = await page.$$eval(".links a", (as) => as.map((a) => a.getAttribute("href")));
  for (const path of ["/metrics", "/status.json", "/stream.mjpg"])
    if (!links.includes(path)) throw new Error(`no link to ${path}: ${links}`);
  const config = await page.textContent("#config");
  for (const s of stages) if (!config.includes(`name: ${s}`)) throw new Error(`config lacks stage ${s}: ${config}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(`ok stages=${names.join(",")} preview_frames=${later.frames} width=${later.width}`);
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
