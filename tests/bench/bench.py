#!/usr/bin/python3
"""cvpipe's benchmark: cvpipe side by side with what a user would write instead, in one run.

On clips it generates (motion and noise, H.264), for each size and op chain it measures:
  1. cvpipe --inline, one OpenCV thread (the sequential baseline)
  2. a plain OpenCV loop in Python, OpenCV's own threading left on
  3. a Python multiprocessing pipeline (Pool.imap over frames, as tutorials teach)
  4. GStreamer with Debian's OpenCV elements (cvsmooth, edgedetect), queues between stages
  5. cvpipe with 1, 2 (and nproc, if more) workers, and with the chain split over two stages two ways
plus cvpipe's own overhead (a no-op chain on a synthetic source into the null sink: fps, and the
cost of a hop to a worker and back) and its end-to-end latency on a source paced at 30 fps.

Per row: fps (median of --runs runs, wall clock of the whole process, start-up included), CPU
seconds per frame (user + system of the process and everything it started), peak PSS summed over
the process tree, and efficiency = fps / (cores / CPU seconds per frame of row 1).
Prints a Markdown table and writes it with a CSV beside it (--out, default build/bench).
Figures are reported, never asserted: this is not a test.
"""
import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"  # Debian's, which has python3-opencv

CHAINS = {
    "light": [{"op": "gaussian_blur", "ksize": 15}, {"op": "grayscale"}, {"op": "canny", "low": 100, "high": 200}],
    "heavy": [{"op": "bilateral", "d": 9, "sigma_color": 75, "sigma_space": 75},
              {"op": "gaussian_blur", "ksize": 15}, {"op": "grayscale"}, {"op": "canny", "low": 100, "high": 200}],
}
# Two ways to split each chain over two stages: (ops in stage 1, workers 1, workers 2).
SPLITS = {"light": [(1, 1, 1), (2, 1, 1)], "heavy": [(1, 1, 1), (1, 2, 1)]}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_clip(path, size, frames):
    if os.path.exists(path):
        return
    w, h = size.split("x")
    src = (f"mandelbrot=size={size}:rate=30:start_scale=3:end_scale=0.02,"
           f"noise=alls=10:allf=t,trim=end_frame={frames}")
    overlay = f"testsrc2=size={int(w)//4}x{int(h)//4}:rate=30"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", overlay, "-filter_complex",
           f"[0][1]overlay=x='mod(t*{int(w)//6},{int(w)*3//4})':y={int(h)//2}:shortest=1",
           "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           "-y", path]
    subprocess.run(cmd, check=True)


def yaml_ops(ops, indent):
    pad = " " * indent
    lines = []
    for op in ops:
        items = ", ".join(f"{k}: {v}" for k, v in op.items())
        lines.append(f"{pad}- {{{items}}}")
    return "\n".join(lines)


def cvpipe_config(path, source, stages, sink="null"):
    text = source + "stages:\n"
    for i, (ops, workers) in enumerate(stages):
        text += f"  - name: s{i}\n    workers: {workers}\n    ops:\n{yaml_ops(ops, 6)}\n"
    text += f"sink: {{type: \"{sink}\"}}\nlog: {{level: warn, stats_interval: 0}}\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def tree_pids(root):
    """The process and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(argv, frames, timeout=900):
    """Runs argv; returns dict(wall, cpu, peak_pss_mb, stdout)."""
    peak = [0]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        while not done.is_set():
            total = sum(pss_kb(p) for p in tree_pids(proc.pid))
            peak[0] = max(peak[0], total)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    err_chunks = []
    err_reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    err_reader.start()
    deadline = start + timeout
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    reader.join()
    err_reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {''.join(err_chunks)[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "pss": peak[0] / 1024.0,
            "stdout": "".join(out_chunks), "fps": frames / wall}


def summary_of(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def median_row(name, argv, frames, runs, check=None):
    results = []
    for _ in range(runs):
        r = measure(argv, frames)
        if check:
            check(r)
        results.append(r)
    fps = statistics.median(r["fps"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results) / frames
    pss = max(r["pss"] for r in results)
    log(f"  {name}: {fps:.1f} fps, {cpu * 1000:.2f} ms CPU/frame, {pss:.0f} MB")
    return {"row": name, "fps": fps, "cpu_ms_per_frame": cpu * 1000, "peak_pss_mb": pss, "runs": results}


def cvpipe_check(frames):
    def check(r):
        s = summary_of(r["stdout"])
        if s["frames_written"] != frames:
            raise RuntimeError(f"cvpipe wrote {s['frames_written']} of {frames} frames")
    return check


# The chains GStreamer's OpenCV elements can express: in gstreamer1.0-opencv 1.22,
# `cvsmooth type=bilateral` fails on the first frame ("cv_trans_func != NULL"), so the heavy
# chain has no GStreamer row.
GST_CHAINS = ("light",)


def gst_pipeline(clip, chain):
    assert chain in GST_CHAINS
    smooth = "cvsmooth type=gaussian kernel-width=15 kernel-height=15"
    edges = "edgedetect threshold1=100 threshold2=200 aperture=3"
    elements = [smooth, edges]
    body = " ! queue ! ".join(elements)
    return (["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "decodebin", "!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "queue", "!"]
            + body.split() + ["!", "fakesink", "sync=false"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cvpipe", default=os.path.join(ROOT, "build", "cvpipe"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="640x480:600,1920x1080:240", help="WxH:frames,...")
    ap.add_argument("--chains", default="light,heavy")
    ap.add_argument("--smoke", action="store_true", help="a few frames, one run, one size and chain: checks every runner works")
    args = ap.parse_args()
    if args.smoke:
        args.runs, args.sizes, args.chains = 1, "320x240:20", "light"
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cvpipe-bench-")
    cores = os.cpu_count() or 1
    rows = []
    try:
        for spec in args.sizes.split(","):
            size, frames = spec.split(":")
            frames = int(frames)
            clip = os.path.join(args.out, f"clip-{size}-{frames}.mp4")
            make_clip(clip, size, frames)
            source = f"source: {{type: file, path: {clip}}}\n"
            for chain in args.chains.split(","):
                ops = CHAINS[chain]
                log(f"bench: {size} {chain}")
                group = []

                def cv(name, stages, extra=()):
                    cfg = cvpipe_config(os.path.join(work, "c.yaml"), source, stages)
                    row = median_row(name, [args.cvpipe, "run", cfg, *extra], frames, args.runs, cvpipe_check(frames))
                    group.append(row)
                    return row

                cv("cvpipe --inline, 1 OpenCV thread", [(ops, 1)], ["--inline"])
                group.append(median_row("OpenCV loop in Python, OpenCV threads on",
                                        [PY, os.path.join(HERE, "opencv_loop.py"), clip, chain, str(frames)], frames, args.runs))
                group.append(median_row("Python multiprocessing Pool.imap",
                                        [PY, os.path.join(HERE, "mp_pipeline.py"), clip, chain, str(frames)], frames, args.runs))
                if chain in GST_CHAINS:
                    group.append(median_row("GStreamer cvsmooth ! queue ! edgedetect", gst_pipeline(clip, chain), frames,
                                            args.runs))
                worker_counts = [1, 2] + ([cores] if cores > 2 else [])
                for n in worker_counts:
                    cv(f"cvpipe {n} worker{'s' if n > 1 else ''}", [(ops, n)])
                for first, w1, w2 in SPLITS[chain]:
                    cv(f"cvpipe 2 stages: {first} op{'s' if first > 1 else ''} x{w1} + {len(ops) - first} x{w2}",
                       [(ops[:first], w1), (ops[first:], w2)])
                base_cpu = group[0]["cpu_ms_per_frame"] / 1000
                limit = cores / base_cpu
                for row in group:
                    row.update(size=size, chain=chain, frames=frames, efficiency=row["fps"] / limit)
                rows.extend(group)

        # cvpipe's own overhead: the no-op chain, as fast as possible and paced.
        extra = {}
        noop_frames = 200 if args.smoke else 20000
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {noop_frames}}}\n"
        cfg = cvpipe_config(os.path.join(work, "noop.yaml"), synth, [([{"op": "identity"}], 2)])
        row = median_row("cvpipe no-op chain (identity, 2 workers, null sink)", [args.cvpipe, "run", cfg], noop_frames,
                         args.runs, cvpipe_check(noop_frames))
        row.update(size="640x480", chain="no-op", frames=noop_frames, efficiency=float("nan"))
        rows.append(row)
        hops = [summary_of(r["stdout"])["hop_us"] for r in row["runs"]]
        extra["noop_fps"] = row["fps"]
        extra["hop_us_at_max"] = {k: statistics.median(h[k] for h in hops) for k in ("p50", "p99")}
        paced_frames = 100 if args.smoke else 3000
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {paced_frames}, fps: 1000, pace: realtime}}\n"
        cfg = cvpipe_config(os.path.join(work, "noop-paced.yaml"), synth, [([{"op": "identity"}], 2)])
        hops = [summary_of(measure([args.cvpipe, "run", cfg], paced_frames)["stdout"])["hop_us"] for _ in range(args.runs)]
        extra["hop_us_paced"] = {k: statistics.median(h[k] for h in hops) for k in ("p50", "p99")}

        # Latency at 30 fps, light chain, 2 workers.
        lat_frames = 30 if args.smoke else 300
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {lat_frames}, fps: 30, pace: realtime}}\n"
        cfg = cvpipe_config(os.path.join(work, "lat.yaml"), synth, [(CHAINS["light"], 2)])
        s = summary_of(measure([args.cvpipe, "run", cfg], lat_frames)["stdout"])
        extra["latency_ms"] = s["latency_ms"]
        extra["latency_chain_ms"] = 1000 * s["stages"][0]["busy_seconds"] / max(1, s["stages"][0]["frames_processed"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = f"{platform.processor() or platform.machine()}, {cores} cores, " + cpu_model()
    write_report(rows, extra, machine, args.out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def write_report(rows, extra, machine, out):
    header = ["size", "chain", "row", "fps", "cpu_ms_per_frame", "peak_pss_mb", "efficiency"]
    with open(os.path.join(out, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r["size"], r["chain"], r["row"], f"{r['fps']:.1f}", f"{r['cpu_ms_per_frame']:.2f}",
                        f"{r['peak_pss_mb']:.0f}", "" if r["efficiency"] != r["efficiency"] else f"{r['efficiency']:.2f}"])
    lines = [f"Machine: {machine}. Median of the runs; fps counts start-up; efficiency = fps / (cores / CPU s per frame of the --inline row).", "",
             "| size | chain | row | fps | CPU ms/frame | peak PSS MB | efficiency |", "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        eff = "" if r["efficiency"] != r["efficiency"] else f"{r['efficiency']:.2f}"
        lines.append(f"| {r['size']} | {r['chain']} | {r['row']} | {r['fps']:.1f} | {r['cpu_ms_per_frame']:.2f} | "
                     f"{r['peak_pss_mb']:.0f} | {eff} |")
    lines.append("")
    lines.append(f"- cvpipe no-op chain (640x480, identity, 2 workers, null sink): {extra['noop_fps']:.0f} fps")
    lines.append(f"- hop to a worker and back (pickup + hand-back; ops and queueing not counted): paced at 1000 fps p50 {extra['hop_us_paced']['p50']:.1f} µs, "
                 f"p99 {extra['hop_us_paced']['p99']:.1f} µs; flat out p50 {extra['hop_us_at_max']['p50']:.1f} µs, "
                 f"p99 {extra['hop_us_at_max']['p99']:.1f} µs")
    lines.append(f"- latency, capture to write, 640x480 light chain, 2 workers, paced at 30 fps: "
                 f"p50 {extra['latency_ms']['p50']:.1f} ms, p99 {extra['latency_ms']['p99']:.1f} ms "
                 f"(the chain itself: {extra['latency_chain_ms']:.1f} ms per frame)")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
