// Plays a video file in headless Chromium (Debian's, through playwright-core), as a person opening
// a recording would: served over HTTP on 127.0.0.1 (with byte ranges, as browsers ask for them),
// the browser must decode it, at its size and length, and play it forward.
// Usage: node video_playback.mjs VIDEO WIDTH HEIGHT SECONDS
// Prints "ok ..." and exits 0; prints "unplayable: ..." and exits 2 when Chromium cannot decode
// it; prints why and exits 1 on anything else. Every wait is bounded.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [video, width, height, seconds] = process.argv.slice(2);
const bytes = readFileSync(video);
const type = video.endsWith(".mp4") ? "video/mp4" : video.endsWith(".webm") ? "video/webm" : "video/x-matroska";
const server = createServer((req, res) => {
  if (req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end('<!doctype html><video id="v" src="/video" muted playsinline></video>');
    return;
  }
  if (req.url !== "/video") { res.writeHead(404); res.end(); return; }
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  if (!range) {
    res.writeHead(200, { "Content-Type": type, "Content-Length": bytes.length, "Accept-Ranges": "bytes" });
    res.end(bytes);
    return;
  }
  const start = Number(range[1]), end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
  res.writeHead(206, { "Content-Type": type, "Content-Length": end - start + 1, "Accept-Ranges": "bytes",
                       "Content-Range": `bytes ${start}-${end}/${bytes.length}` });
  res.end(bytes.subarray(start, end + 1));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
                                        args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: 15000 });
  await page.waitForFunction(() => {
    const v = document.querySelector("video");
    return v && (v.error || v.readyState >= 2);
  }, null, { timeout: 15000 });
  const error = await page.evaluate(() => document.querySelector("video").error?.code ?? 0);
  if (error) {
    console.log(`unplayable: MediaError code ${error}`);
    process.exitCode = 2;
  } else {
    const meta = await page.evaluate(() => {
      const v = document.querySelector("video");
      return { width: v.videoWidth, height: v.videoHeight, duration: v.duration };
    });
    if (meta.width !== Number(width) || meta.height !== Number(height))
      throw new Error(`decoded at ${meta.width}x${meta.height}, expected ${width}x${height}`);
    if (Math.abs(meta.duration - Number(seconds)) > 0.05 * Number(seconds))
      throw new Error(`lasts ${meta.duration} s, expected ${seconds}`);
    // It plays forward, and what it shows is a picture, not a blank.
    await page.evaluate(() => { const v = document.querySelector("video"); v.muted = true; return v.play(); });
    await page.waitForFunction((d) => document.querySelector("video").currentTime >= Math.min(0.5, d / 2),
                               meta.duration, { timeout: 10000 });
    const spread = await page.evaluate(() => {
      const v = document.querySelector("video");
      const c = document.createElement("canvas");
      c.width = v.videoWidth; c.height = v.videoHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(v, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let min = 255, max = 0;
      for (let i = 0; i < d.length; i += 4) { min = Math.min(min, d[i + 1]); max = Math.max(max, d[i + 1]); }
      return max - min;
    });
    if (spread < 32) throw new Error(`the frame shown is nearly uniform (green from min to max: ${spread})`);
    const played = await page.evaluate(() => document.querySelector("video").currentTime);
    console.log(`ok ${meta.width}x${meta.height} duration=${meta.duration.toFixed(3)} played_to=${played.toFixed(2)}`);
  }
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
