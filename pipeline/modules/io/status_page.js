"use strict";
// Replaces the children of #id with one "key: value" span a pair.
function spans(id, pairs) {
  const el = document.getElementById(id);
  el.innerHTML = "";
  for (const [k, v] of pairs) {
    const span = document.createElement("span"); span.textContent = k + ": " + v; el.appendChild(span);
  }
}
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
async function refreshStats() {
  try {
    const s = await (await fetch("/status.json", {cache: "no-store"})).json();
    const total = s.frames_total > 0 ? " / " + s.frames_total : "";
    const up = Math.round(s.elapsed_seconds);
    const uptime = Math.floor(up / 3600) + "h " + String(Math.floor(up / 60) % 60).padStart(2, "0") + "m " +
                   String(up % 60).padStart(2, "0") + "s";
    spans("process", [["version", s.version], ["pid", s.pid], ["running", uptime]]);
    spans("summary", [["read", s.frames_read + total], ["written", s.frames_written], ["dropped", s.frames_dropped],
                      ["fps in", s.fps_in.toFixed(1)], ["fps out", s.fps_out.toFixed(1)],
                      ["latency p50", s.latency_ms.p50.toFixed(1) + " ms"], ["p99", s.latency_ms.p99.toFixed(1) + " ms"],
                      ["slots", s.slots_in_use + " / " + s.slots]]);
    spans("drops", Object.entries(s.dropped).filter(([, n]) => n > 0).map(([why, n]) => ["dropped " + why, n]));
    spans("detections", Object.entries(s.detections).map(([what, n]) => [what, n]));
    const body = document.querySelector("#stages tbody");
    body.innerHTML = "";
    for (const st of s.stages) {
      const row = document.createElement("tr");
      row.className = "stage";
      cell(row, st.name); cell(row, st.workers); cell(row, st.fps.toFixed(1)); cell(row, (st.busy * 100).toFixed(0) + "%");
      cell(row, st.queue); cell(row, st.latency_ms.p50.toFixed(2)); cell(row, st.latency_ms.p95.toFixed(2));
      cell(row, st.frames_processed); cell(row, st.restarts);
      body.appendChild(row);
    }
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (e) { /* the daemon may be gone: keep the last table */ }
  try {
    const r = await fetch("/readyz", {cache: "no-store"});
    const el = document.getElementById("ready");
    el.textContent = r.ok ? "(ready)" : "(" + (await r.text()).trim() + ")";
    el.className = r.ok ? "" : "bad";
  } catch (e) {}
}
// The preview: the newest frame, fetched again as soon as one has been shown (paced by the
// server's http.preview_fps), so a slow page never queues frames. Each frame is loaded and decoded
// off-screen and then takes the shown one's place: changing the shown image's src would blank it
// while the next frame loads.
let previewFrames = 0;
function nextPreview() {
  const img = new Image();
  img.id = "preview";
  img.alt = "live preview";
  img.src = "/preview.jpg?t=" + Date.now();
  img.decode().then(() => {
    img.dataset.frames = String(++previewFrames);
    document.getElementById("preview").replaceWith(img);
    setTimeout(nextPreview, 100);
  }, () => setTimeout(nextPreview, 1000));
}
nextPreview();
refreshStats();
setInterval(refreshStats, 1000);
