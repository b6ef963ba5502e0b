#!/usr/bin/python3
"""cvpipe's benchmark: cvpipe side by side with what a user would write instead, in one run.

On clips it generates (motion and noise, H.264), or on yours (--clips), for each clip and op chain
it measures:
  1. cvpipe --inline, one OpenCV thread (the sequential baseline), and as many of it at once as
     there are cores, each on the whole clip and decoding on one thread (side_by_side.py): the
     machine's own ceiling, every core on the chain with nothing shared but the caches and the
     memory bus
  2. a plain OpenCV loop in Python, OpenCV's own threading left on
  3. a Python multiprocessing pipeline (Pool.imap over frames, as tutorials teach), and one done
     with care (frames in shared-memory slots, indices over queues: cvpipe's shape in Python)
  4. GStreamer with Debian's OpenCV elements (cvsmooth, edgedetect), queues between stages
  5. cvpipe with 1, 2 (and nproc, if more) workers, and with the chain split over two stages two ways
  6. any peer of yours (--peer 'NAME=COMMAND', as often as you like), measured the same way
plus cvpipe's own overhead (a no-op chain on a synthetic source into the null sink: fps, and the
cost of a hop to a worker and back) and its end-to-end latency on a source paced at 30 fps.

Per row: fps (median of --runs runs, wall clock of the whole process, start-up included), CPU
seconds per frame (user + system of the process and everything it started), peak PSS summed over
the process tree, and efficiency = fps / (cores / CPU seconds per frame of row 1). Beside them, the
same once running: "steady fps" counts from the first frame out to the last (each runner notes
both times: cvpipe in its summary, the Python scripts and a probe on GStreamer's sink in a JSON
line), and "steady efficiency" divides it by cores / row 1's CPU per frame without its start-up
(the CPU of `cvpipe validate` on the same config, which loads, opens and decodes the first frame).
For cvpipe it also reports the time to the first frame written, the shared segment's size against
slots x buffers x frame bytes, and each worker's private memory (the segment left out).
Prints a Markdown table and writes it with a CSV, the run's figures as JSON and a chart (PNG)
beside it (--out, default build/bench); --publish also puts them into docs/performance.md and
docs/performance/. Figures are reported, never asserted: this is not a test.
"""
import argparse
import csv
import ctypes
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"  # Debian's, which has python3-opencv
# tools/dev runs this from the repository's root: relative paths given to it are the caller's.
CALLER_DIR = os.environ.get("CVPIPE_BENCH_CWD", os.getcwd())

CHAINS = {
    "light": [{"op": "gaussian_blur", "ksize": 15}, {"op": "grayscale"}, {"op": "canny", "low": 100, "high": 200}],
    "heavy": [{"op": "bilateral", "d": 9, "sigma_color": 75, "sigma_space": 75},
              {"op": "gaussian_blur", "ksize": 15}, {"op": "grayscale"}, {"op": "canny", "low": 100, "high": 200}],
}
# Two ways to split each chain over two stages: (ops in stage 1, workers 1, workers 2).
SPLITS = {"light": [(1, 1, 1), (2, 1, 1)], "heavy": [(1, 1, 1), (1, 2, 1)]}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_clip(path, w, h, frames):
    if os.path.exists(path):
        return
    src = (f"mandelbrot=size={w}x{h}:rate=30:start_scale=3:end_scale=0.02,"
           f"noise=alls=10:allf=t,trim=end_frame={frames}")
    overlay = f"testsrc2=size={w // 4}x{h // 4}:rate=30"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", overlay, "-filter_complex",
           f"[0][1]overlay=x='mod(t*{w // 6},{w * 3 // 4})':y={h // 2}:shortest=1",
           "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           "-y", path]
    subprocess.run(cmd, check=True)


def clips_to_run(args):
    """(path, label, (width, height), frames) for each clip: the ones given with --clips, decoded
    once by OpenCV to count their frames (every runner checks it read that many), or those --sizes
    asks to generate."""
    if args.clips:
        for path in args.clips.split(","):
            path = os.path.join(CALLER_DIR, path)
            out = subprocess.run([PY, "-c", COUNT_FRAMES, path], check=True, capture_output=True, text=True).stdout
            w, h, frames = (int(x) for x in out.split())
            if frames < 2:
                sys.exit(f"bench: {path}: OpenCV decodes {frames} frames of it; a clip needs 2 at least")
            yield path, f"{w}x{h} {os.path.basename(path)}", (w, h), frames  # two clips may have one size
        return
    for (w, h), frames in args.sizes:
        clip = os.path.join(args.out, f"clip-{w}x{h}-{frames}.mp4")
        make_clip(clip, w, h, frames)
        yield clip, f"{w}x{h}", (w, h), frames


def size_list(text):
    """--sizes: "WxH:frames,..." as [((W, H), frames), ...], or argparse's own error naming what was expected."""
    sizes = []
    for spec in text.split(","):
        m = re.fullmatch(r"(\d+)x(\d+):(\d+)", spec.strip())
        if not m or min(int(g) for g in m.groups()) < 1 or int(m[3]) < 2:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected WxH:frames, as 640x480:600 (2 frames at least)")
        sizes.append(((int(m[1]), int(m[2])), int(m[3])))
    return sizes


def positive(text):
    """--runs: a whole number, 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number, 1 or more")
    return int(text)


# The peers of ours: (row, script in tests/bench) for the Python ones, and GStreamer's row.
PY_PEERS = [("OpenCV loop in Python, OpenCV threads on", "opencv_loop.py"),
            ("Python multiprocessing Pool.imap", "mp_pipeline.py"),
            ("Python multiprocessing, shared-memory slots", "mp_shm_pipeline.py")]
GST_ROW = "GStreamer cvsmooth ! queue ! edgedetect"

# What a --peer command may ask for, each as {name} in its words, with a value of its kind
# (peer_spec fills a command in with these to check it).
PEER_FIELDS = {"clip": "c.mp4", "chain": "light", "frames": 2, "ops": "[]", "width": 2, "height": 2}
PEER_NAMES = ", ".join("{" + f + "}" for f in PEER_FIELDS)


def peer_spec(text):
    """--peer: "NAME=COMMAND" as (NAME, [word, ...]), a word's {clip}, {chain}, ... filled in per row."""
    name, eq, command = text.partition("=")
    name = name.strip()
    try:
        words = shlex.split(command) if eq else []
    except ValueError as e:  # an unclosed quote
        raise argparse.ArgumentTypeError(f"{text!r}: {e}")
    if not name or not words:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=COMMAND, as 'my loop=python3 loop.py {{clip}} {{chain}}'")
    # Not one of ours (the report finds cvpipe's rows by name), and a Markdown table cell.
    if name.startswith("cvpipe") or "|" in name:
        raise argparse.ArgumentTypeError(f"{text!r}: a peer's name may not start with \"cvpipe\" or hold a |")
    for word in words:
        try:
            word.format(**PEER_FIELDS)
        except (KeyError, IndexError, AttributeError):  # {nope}, {0} or {}, {clip.x}
            raise argparse.ArgumentTypeError(f"{text!r}: {word!r}: expected fields among {PEER_NAMES}")
        except ValueError as e:  # a lone brace, a format spec that does not fit ({clip:d})
            raise argparse.ArgumentTypeError(f"{text!r}: {word!r}: {e} (write a brace as {{{{ or }}}})")
    return name, words


def peer_row(name, words, clip, dims, chain, frames, may_fail):
    """A row for a peer of the user's. Its command runs from the directory bench.py was started in.
    If its last line is JSON with "frames" (and "first_s", "last_s" for its steady rate), the count
    must be the clip's; a peer that prints none is measured all the same, its count unchecked."""
    values = {"clip": clip, "chain": chain, "frames": frames, "ops": json.dumps(CHAINS[chain]), "width": dims[0],
              "height": dims[1]}
    argv = [word.format(**values) for word in words]

    def check(r):
        try:
            s = summary_of(r["stdout"])
        except (ValueError, IndexError):
            s = None
        if not isinstance(s, dict) or "frames" not in s:
            row.name = f"{name} (prints no frame count: unchecked)"
        elif s["frames"] != frames:
            raise RuntimeError(f"the run reports {s['frames']} of {frames} frames")
    row = Row(name, argv, check, cwd=CALLER_DIR, may_fail=may_fail)
    return row


def chain_list(text):
    """--chains: names from CHAINS, comma-separated."""
    chains = text.split(",")
    for c in chains:
        if c not in CHAINS:
            raise argparse.ArgumentTypeError(f"{c!r}: expected one of {', '.join(CHAINS)}")
    return chains


COUNT_FRAMES = """
import sys, cv2
cap, n, shape = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG), 0, (0, 0)
while True:
    ok, frame = cap.read()
    if not ok:
        break
    n, shape = n + 1, frame.shape
print(shape[1], shape[0], n)
"""


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


_libc = ctypes.CDLL(None, use_errno=True)
_SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
_KCMP_VM = 1


def shares_memory(a, b):
    """Whether processes a and b have one address space: a child posix_spawn has started but that
    has not yet exec'd (vfork) runs in its parent's, and its smaps_rollup is the parent's again."""
    if _SYS_KCMP is None:
        return False
    return _libc.syscall(_SYS_KCMP, a, b, _KCMP_VM, 0, 0) == 0


def tree_pids(root):
    """The process and all its descendants, from /proc/PID/task/TID/children (each thread lists
    the children it started), which costs far less than reading every process's stat. A child
    still in its parent's address space is left out: its memory is its parent's, counted once."""
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(c for c in map(int, f.read().split()) if not shares_memory(p, c))
        except OSError:
            pass
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


SEGMENT = "memfd:cvpipe-frames"


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def private_kb_and_segment_kb(pid):
    """(private memory outside cvpipe's shared segment, size of the segment's mapping) in kB."""
    private, segment, in_segment = 0, 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if not first.endswith(":"):
                    in_segment = SEGMENT in line  # a mapping's header line
                elif first == "Size:" and in_segment:
                    segment += int(line.split()[1])
                elif first in ("Private_Clean:", "Private_Dirty:") and not in_segment:
                    private += int(line.split()[1])
    except OSError:
        pass
    return private, segment


class RunFailed(RuntimeError):
    """A command that exited non-zero; `stderr` is all it wrote there."""

    def __init__(self, message, stderr):
        super().__init__(message)
        self.stderr = stderr


def failure_reason(e):
    """One line on why a run failed: a Python traceback's last line; else the first line of its
    stderr that says "error" (GStreamer's names the element and the missing plug-in); else its
    last line."""
    text = getattr(e, "stderr", str(e))
    lines = [x.strip() for x in text.splitlines() if x.strip()] or [str(e)]
    if "Traceback (most recent call last):" in text:
        line = lines[-1]
    else:
        line = next((x for x in lines if "error" in x.lower()), lines[-1])
    return line if len(line) <= 200 else line[:197] + "..."


class RowFailed(RuntimeError):
    """A row that may not fail did: ends the benchmark with one line naming it."""

    def __init__(self, name, cause):
        super().__init__(f"{name}: {failure_reason(cause)}")
        self.detail = str(cause)


def signal_name(number):
    """SIGSEGV for 11; "signal 40" for a number the signal module has no name for (real-time ones)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def measure(argv, frames, timeout=900, memory=False, sample=True, cwd=None):
    """Runs argv; returns dict(wall, cpu, pss, stdout, stderr, fps, and with memory=True
    worker_private_mb and segment_mb). The memory sampler wakes every 0.1 s; it shares the
    machine and slows what it samples (Row.sample_memory), so timed runs go without it
    (sample=False, pss 0). Nothing else here wakes while argv runs: a thread blocks in wait4."""
    peak = [0]
    workers_peak, segment = [0], [0]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    except OSError as e:  # not there, not executable
        raise RunFailed(f"{argv[0]}: cannot run it: {e.strerror}", f"{argv[0]}: cannot run it: {e.strerror}")
    done = threading.Event()

    def sample_memory():
        while not done.is_set():
            pids = tree_pids(proc.pid)
            total = sum(pss_kb(p) for p in pids)
            peak[0] = max(peak[0], total)
            for p in pids if memory else ():
                if comm_of(p) == "cvpipe-worker":
                    workers_peak[0] = max(workers_peak[0], private_kb_and_segment_kb(p)[0])
                elif p == proc.pid:
                    segment[0] = max(segment[0], private_kb_and_segment_kb(p)[1])
            done.wait(0.1)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    if sample:
        sampler.start()
    out_chunks = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    err_chunks = []
    err_reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    err_reader.start()
    waited = {}

    def wait():
        try:
            _, waited["status"], waited["usage"] = os.wait4(proc.pid, 0)
        except ChildProcessError:  # reaped elsewhere meanwhile
            waited["status"], waited["usage"] = 9, None
        waited["wall"] = time.monotonic() - start

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        # Timed out: the whole tree, or a child that holds stdout open keeps the readers waiting.
        for pid in tree_pids(proc.pid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        waiter.join()
    status, usage, wall = waited["status"], waited["usage"], waited["wall"]
    done.set()
    if sample:
        sampler.join()
    reader.join()
    err_reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = "".join(err_chunks)
        how = f"exited {proc.returncode}" if proc.returncode > 0 else f"was killed by {signal_name(-proc.returncode)}"
        raise RunFailed(f"{' '.join(argv)} {how}: {err[-2000:] if err.strip() else 'nothing on stderr'}", err)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "pss": peak[0] / 1024.0,
            "stdout": "".join(out_chunks), "stderr": "".join(err_chunks), "fps": frames / wall,
            "worker_private_mb": workers_peak[0] / 1024.0, "segment_mb": segment[0] / 1024.0}


def summary_of(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def steady_fps_of(stdout):
    """The rate from the first frame out to the last, from the runner's last line: cvpipe's summary
    (first_frame_ms, last_frame_ms) or the peers' {"frames", "first_s", "last_s"}; None if absent."""
    try:
        s = summary_of(stdout)
        if "last_frame_ms" in s:
            n, span = s["frames_written"], (s["last_frame_ms"] - s["first_frame_ms"]) / 1000
        elif "last_s" in s:
            n, span = s["frames"], s["last_s"] - s["first_s"]
        else:
            return None
        return (n - 1) / span if n > 1 and span > 0 else None
    except (ValueError, IndexError, KeyError, TypeError):  # no JSON object there, or not these keys
        return None


class Row:
    """One way of running a chain: a command (and optionally another that times it once running,
    GStreamer's probe); its runs, then its medians. A row that may fail (a peer's, outside --smoke)
    and fails, or reads the wrong number of frames, is not run again and is reported as failed,
    with why, and with the medians of the runs it had passed before, if any; any other row's
    failure (cvpipe's, the baseline's) ends the benchmark."""

    def __init__(self, name, argv, check=None, steady_argv=None, copies=1, cwd=None, may_fail=False):
        self.name, self.argv, self.check, self.steady_argv, self.cwd = name, argv, check, steady_argv, cwd
        self.copies = copies  # how many times the command reads the clip (side_by_side.py)
        self.may_fail, self.failed = may_fail, None
        self.runs = []
        self.pss = float("nan")  # peak PSS in MB, from sample_memory

    def run_once(self, frames):
        """A timed run, with nothing sampling its memory (see sample_memory)."""
        def timed():
            r = measure(self.argv, frames * self.copies, cwd=self.cwd, sample=False)
            if self.check:
                self.check(r)
            r["steady_fps"] = steady_fps_of(measure(self.steady_argv, frames, sample=False)["stdout"]
                                            if self.steady_argv else r["stdout"])
            self.runs.append(r)
        self._attempt(timed, f"round {len(self.runs) + 1}")

    def sample_memory(self, frames):
        """One run more, after the timed ones, for the peak PSS alone. The sampler's reads of
        /proc/PID/smaps_rollup slow the run they sample: on this 2-core VM a 1080p light run on 2
        workers took 3% longer sampled (2.83 against 2.74 s, 6 interleaved runs), as the reads
        compete for the cores and for the process's memory map with its page faults, where a run
        on one core does not notice them. So no timed run is sampled."""
        def sampled():
            r = measure(self.argv, frames * self.copies, cwd=self.cwd)
            if self.check:
                self.check(r)
            self.pss = r["pss"]
        self._attempt(sampled, "its memory's run")

    def _attempt(self, run, what):
        if self.failed:
            return
        try:
            run()
        except RuntimeError as e:
            if not self.may_fail:
                raise RowFailed(self.name, e) from e
            self.failed = failure_reason(e)
            if self.runs:  # the runs before stand, measured as any other's
                self.failed = f"in {what} (the figures: the {len(self.runs)} timed runs before): {self.failed}"
            log(f"  {self.name}: failed in {what}: {e}")

    def medians(self, frames):
        if self.failed and not self.runs:
            nan = float("nan")
            return {"row": self.name, "fps": nan, "steady_fps": nan, "cpu_ms_per_frame": nan, "peak_pss_mb": nan,
                    "runs": [], "failed": self.failed}
        fps = statistics.median(r["fps"] for r in self.runs)
        cpu = statistics.median(r["cpu"] for r in self.runs) / (frames * self.copies)
        pss = self.pss
        steadies = [r["steady_fps"] for r in self.runs if r["steady_fps"]]
        steady = statistics.median(steadies) if len(steadies) == len(self.runs) else float("nan")
        log(f"  {self.name}: {fps:.1f} fps ({steady:.1f} once running), {cpu * 1000:.2f} ms CPU/frame, {pss:.0f} MB")
        medians = {"row": self.name, "fps": fps, "steady_fps": steady, "cpu_ms_per_frame": cpu * 1000,
                   "peak_pss_mb": pss, "runs": self.runs}
        if self.failed:
            medians["failed"] = self.failed
        return medians


def run_rows(rows, frames, runs):
    """Runs every row `runs` times, round by round (row 1, row 2, ..., then again), so that a slow
    spell of this shared machine falls on all rows alike rather than on one, then once more each
    for its memory; returns the medians."""
    for round_ in range(runs):
        log(f"  round {round_ + 1} of {runs}")
        for row in rows:
            row.run_once(frames)
    log("  memory")
    for row in rows:
        row.sample_memory(frames)
    return [row.medians(frames) for row in rows]


def cpu_seconds(argv, runs):
    """Median CPU seconds (user + system) of a command that must succeed."""
    return statistics.median(measure(argv, 1)["cpu"] for _ in range(runs))


def cvpipe_check(frames, key="frames_written"):
    """A check that the run's last line counts `frames` under `key` (cvpipe's summary; "frames"
    for the JSON line of the scripts here)."""
    def check(r):
        s = summary_of(r["stdout"])
        if s[key] != frames:
            raise RuntimeError(f"the run wrote {s[key]} of {frames} frames")
    return check


# The chains GStreamer's OpenCV elements can express: in gstreamer1.0-opencv 1.22,
# `cvsmooth type=bilateral` fails on the first frame ("cv_trans_func != NULL"), so the heavy
# chain has no GStreamer row.
GST_CHAINS = ("light",)


def gst_elements(clip, chain):
    """The launch line's words, for gst-launch-1.0 and for gst_pipeline.py (which times it)."""
    assert chain in GST_CHAINS
    smooth = "cvsmooth type=gaussian kernel-width=15 kernel-height=15"
    edges = "edgedetect threshold1=100 threshold2=200 aperture=3"
    body = " ! queue ! ".join([smooth, edges])
    return (["filesrc", f'location="{clip}"', "!", "decodebin", "!", "videoconvert", "!", "video/x-raw,format=RGB", "!",
             "queue", "!"] + body.split() + ["!", "fakesink", "name=out", "sync=false"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cvpipe", default=os.path.join(ROOT, "build", "cvpipe"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--runs", type=positive, default=5,
                    help="timed runs of each row, round by round (default 5): the median is what it reports")
    ap.add_argument("--sizes", type=size_list, default="640x480:600,1920x1080:240", help="WxH:frames,...")
    ap.add_argument("--chains", type=chain_list, default="light,heavy", help=f"from: {', '.join(CHAINS)}")
    ap.add_argument("--clips", default="",
                    help="PATH,...: your own videos instead of generated clips (--sizes is then not used)")
    ap.add_argument("--peer", type=peer_spec, action="append", default=[], metavar="'NAME=COMMAND'",
                    help="a peer of yours, run on every clip and chain and measured like the others; its words "
                         f"may hold {PEER_NAMES} ({{ops}}: the chain as JSON)")
    ap.add_argument("--smoke", action="store_true",
                    help="a few frames, one run, one size and chain: checks every runner works (a failing peer "
                         "ends it, where a full run reports the peer failed and goes on)")
    ap.add_argument("--publish", action="store_true",
                    help="after the run, put its table into docs/performance.md and its headline ratios into "
                         "README.md (between their bench markers), and its figures and chart into docs/performance/")
    ap.add_argument("--check-docs", action="store_true",
                    help="measure nothing: fail if docs/performance.md's table or README.md's headline is not what "
                         "docs/performance/bench.json renders to")
    args = ap.parse_args()
    if args.check_docs:
        sys.exit(check_docs())
    taken = {name for name, _ in PY_PEERS} | {GST_ROW}
    for name, _ in args.peer:
        if name in taken:
            ap.error(f"--peer: {name!r}: a row of that name is there already")
        taken.add(name)
    if args.smoke:
        args.runs, args.chains = 1, ["light"]
        if not args.clips:
            args.sizes = size_list("320x240:20")
    args.out = os.path.join(CALLER_DIR, args.out)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="cvpipe-bench-")
    cores = os.cpu_count() or 1
    # A peer that cannot read a clip (GStreamer without the demuxer) is reported and the rest go
    # on; in a smoke run, there to catch any runner that rots, it ends the benchmark.
    peers_may_fail = not args.smoke
    rows = []
    extra = {}
    try:
        for clip, size, dims, frames in clips_to_run(args):
            source = f"source: {{type: file, path: {json.dumps(clip)}}}\n"  # a JSON string is YAML
            for chain in args.chains:
                ops = CHAINS[chain]
                log(f"bench: {size} {chain}")
                plan = []

                def cv(name, stages, flags=()):
                    cfg = cvpipe_config(os.path.join(work, f"row{len(plan)}.yaml"), source, stages)
                    plan.append(Row(name, [args.cvpipe, "run", cfg, *flags], cvpipe_check(frames)))

                cv("cvpipe --inline, 1 OpenCV thread", [(ops, 1)], ["--inline"])
                # The machine's own ceiling: as many baselines at once as there are cores, each
                # decoding on its own thread (one per core each would crowd the others' cores).
                plan.append(Row(f"{cores} x cvpipe --inline side by side, one decoder thread each "
                                "(the machine's ceiling)",
                                [PY, os.path.join(HERE, "side_by_side.py"), str(cores), *plan[0].argv,
                                 "--set", "source.threads=1"],
                                cvpipe_check(frames * cores, "frames"), copies=cores))
                for name, script in PY_PEERS:
                    plan.append(Row(name, [PY, os.path.join(HERE, script), clip, chain, str(frames)],
                                    may_fail=peers_may_fail))
                if chain in GST_CHAINS:
                    words = gst_elements(clip, chain)
                    plan.append(Row(GST_ROW, ["gst-launch-1.0", "-q", *words],
                                    steady_argv=[PY, os.path.join(HERE, "gst_pipeline.py"), str(frames), *words],
                                    may_fail=peers_may_fail))
                plan.extend(peer_row(name, words, clip, dims, chain, frames, peers_may_fail)
                            for name, words in args.peer)
                worker_counts = [1, 2] + ([cores] if cores > 2 else [])
                for n in worker_counts:
                    cv(f"cvpipe {n} worker{'s' if n > 1 else ''}", [(ops, n)])
                for first, w1, w2 in SPLITS[chain]:
                    cv(f"cvpipe 2 stages: {first} op{'s' if first > 1 else ''} x{w1} + {len(ops) - first} x{w2}",
                       [(ops[:first], w1), (ops[first:], w2)])
                group = run_rows(plan, frames, args.runs)
                base = group[0]
                # Row 1's start-up: what `validate` does (load, open the source, decode a frame).
                base_startup_cpu = cpu_seconds([args.cvpipe, "validate", plan[0].argv[2]], args.runs)
                base_cpu = base["cpu_ms_per_frame"] / 1000
                limit = cores / base_cpu
                steady_limit = cores / max(1e-9, (base_cpu * frames - base_startup_cpu) / (frames - 1))
                for row in group:
                    row.update(size=size, chain=chain, frames=frames, efficiency=row["fps"] / limit,
                               steady_efficiency=row["steady_fps"] / steady_limit)
                rows.extend(group)
                # Start-up: the first frame written, which takes the chain's time for one frame too.
                two = next(row for row in group if row["row"] == "cvpipe 2 workers")
                extra.setdefault("first_frame_ms", {})[f"{size} {chain}"] = statistics.median(
                    summary_of(r["stdout"])["first_frame_ms"] for r in two["runs"])
                # Memory, in a run of its own (the sampler reads every mapping of every worker): each
                # worker's private memory, and the segment as mapped against what the start-up log
                # says it is made of.
                cfg = cvpipe_config(os.path.join(work, "c.yaml"), source, [(ops, 2)])
                r = measure([args.cvpipe, "run", cfg, "--set", "log.level=info"], frames, memory=True)
                previous = extra.setdefault("worker_private_mb", {}).get(size, 0)
                extra["worker_private_mb"][size] = max(previous, r["worker_private_mb"])
                line = next((x for x in r["stderr"].splitlines() if "shared segment size=" in x), "")
                extra.setdefault("segment", {})[size] = (r["segment_mb"], line.split("shared segment ", 1)[-1])

        # cvpipe's own overhead: the no-op chain, as fast as possible and paced.
        noop_frames = 200 if args.smoke else 20000
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {noop_frames}}}\n"
        cfg = cvpipe_config(os.path.join(work, "noop.yaml"), synth, [([{"op": "identity"}], 2)])
        row = run_rows([Row("cvpipe no-op chain (identity, 2 workers, null sink)", [args.cvpipe, "run", cfg],
                            cvpipe_check(noop_frames))], noop_frames, args.runs)[0]
        row.update(size="640x480", chain="no-op", frames=noop_frames, efficiency=float("nan"),
                   steady_efficiency=float("nan"))
        rows.append(row)
        # The hop's percentiles from runs of their own, without the memory sampler (measure()).
        hops = [summary_of(measure([args.cvpipe, "run", cfg], noop_frames, sample=False)["stdout"])["hop_us"]
                for _ in range(args.runs)]
        extra["noop_fps"] = row["fps"]
        extra["noop_first_frame_ms"] = statistics.median(summary_of(r["stdout"])["first_frame_ms"] for r in row["runs"])
        extra["hop_us_at_max"] = {k: statistics.median(h[k] for h in hops) for k in ("p50", "p99")}
        paced_frames = 100 if args.smoke else 3000
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {paced_frames}, fps: 1000, pace: realtime}}\n"
        cfg = cvpipe_config(os.path.join(work, "noop-paced.yaml"), synth, [([{"op": "identity"}], 2)])
        hops = [summary_of(measure([args.cvpipe, "run", cfg], paced_frames, sample=False)["stdout"])["hop_us"]
                for _ in range(args.runs)]
        extra["hop_us_paced"] = {k: statistics.median(h[k] for h in hops) for k in ("p50", "p99")}

        # Latency at 30 fps, light chain, 2 workers.
        lat_frames = 30 if args.smoke else 300
        synth = f"source: {{type: synthetic, width: 640, height: 480, frames: {lat_frames}, fps: 30, pace: realtime}}\n"
        cfg = cvpipe_config(os.path.join(work, "lat.yaml"), synth, [(CHAINS["light"], 2)])
        # Each run's percentiles and its chain's mean time, then their medians over the runs: one run
        # of 300 frames has its p99 in its 3 slowest, which a slow spell of the host can make.
        lats = [summary_of(measure([args.cvpipe, "run", cfg], lat_frames, sample=False)["stdout"])
                for _ in range(args.runs)]
        extra["latency_ms"] = {k: statistics.median(s["latency_ms"][k] for s in lats) for k in ("p50", "p99")}
        extra["latency_chain_ms"] = statistics.median(
            1000 * s["stages"][0]["busy_seconds"] / max(1, s["stages"][0]["frames_processed"]) for s in lats)
        extra["latency_chain_p99_ms"] = statistics.median(s["stages"][0]["latency_ms"]["p99"] for s in lats)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = f"{platform.processor() or platform.machine()}, {cores} cores, " + cpu_model()
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "runs": args.runs,
              "rows": [{k: r.get(k) for k in ROW_FIELDS} for r in rows], "extra": extra}
    write_report(report, args.out)
    if args.publish:
        publish(args.out)
    failed = [r for r in rows if r.get("failed")]
    if failed:
        log(f"bench: {len(failed)} row{'s' if len(failed) > 1 else ''} failed (why: under the table); the rest were measured")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def figure(v, fmt):
    return "" if v != v else format(v, fmt)  # NaN: not measured for this row


# What a row of the report keeps (bench.json; NaN where a figure was not measured).
ROW_FIELDS = ["size", "chain", "row", "fps", "steady_fps", "cpu_ms_per_frame", "peak_pss_mb", "efficiency",
              "steady_efficiency", "failed"]
DOCS_PAGE = os.path.join(ROOT, "docs", "performance.md")
DOCS_DIR = os.path.join(ROOT, "docs", "performance")
TABLE_BEGIN, TABLE_END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def render_markdown(report):
    """The run as Markdown: the table, then the figures outside it. What bench.md holds and what
    docs/performance.md shows between its markers."""
    rows, extra = report["rows"], report["extra"]
    lines = [f"Run of {report['date']}, {report['runs']} rounds, on {report['machine']}. Median of the runs. fps: the "
             "whole process, start-up included; steady fps: from the first frame out to the last. efficiency = fps / "
             "(cores / CPU s per frame of the --inline row); steady efficiency = steady fps / (cores / that row's CPU "
             "s per frame without its start-up).", "",
             "| size | chain | row | fps | steady fps | CPU ms/frame | peak PSS MB | efficiency | steady efficiency |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = r["row"] + (" (failed: below)" if r.get("failed") else "")
        lines.append(f"| {r['size']} | {r['chain']} | {name} | {figure(r['fps'], '.1f')} | {figure(r['steady_fps'], '.1f')} | "
                     f"{figure(r['cpu_ms_per_frame'], '.2f')} | {figure(r['peak_pss_mb'], '.0f')} | {figure(r['efficiency'], '.2f')} | "
                     f"{figure(r['steady_efficiency'], '.2f')} |")
    lines.append("")
    lines.extend(f"- failed: {r['size']} {r['chain']}, {r['row']}: {r['failed']}" for r in rows if r.get("failed"))
    lines.append(f"- cvpipe no-op chain (640x480, identity, 2 workers, null sink): {extra['noop_fps']:.0f} fps")
    lines.append(f"- hop to a worker and back (pickup + hand-back; ops and queueing not counted): flat out p50 "
                 f"{extra['hop_us_at_max']['p50']:.1f} µs, p99 {extra['hop_us_at_max']['p99']:.1f} µs; paced at 1000 fps "
                 f"p50 {extra['hop_us_paced']['p50']:.1f} µs, p99 {extra['hop_us_paced']['p99']:.1f} µs")
    lines.append(f"- latency, capture to write, 640x480 light chain, 2 workers, paced at 30 fps (medians of the "
                 f"runs' percentiles): p50 {extra['latency_ms']['p50']:.1f} ms, p99 {extra['latency_ms']['p99']:.1f} ms "
                 f"(the chain itself: {extra['latency_chain_ms']:.1f} ms per frame, p99 {extra['latency_chain_p99_ms']:.1f} ms)")
    firsts = ", ".join(f"{k} {v:.0f} ms" for k, v in extra.get("first_frame_ms", {}).items())
    lines.append(f"- first frame written, after the process started (median of the 2-worker runs; start-up plus one "
                 f"frame through the chain): {firsts}; the no-op chain (cvpipe's start-up alone, synthetic source): "
                 f"{extra['noop_first_frame_ms']:.0f} ms")
    for size, (mapped, said) in extra.get("segment", {}).items():
        memory = (f"each worker's private memory at most {extra['worker_private_mb'][size]:.1f} MB (shared segment "
                  f"left out); the segment of a 2-worker run mapped {mapped:.1f} MiB, the start-up log: {said}"
                  if mapped > 0 else "the run was too short to sample its memory")
        chains = " and ".join(dict.fromkeys(r["chain"] for r in rows if r["size"] == size and r["chain"] != "no-op"))
        lines.append(f"- {size} {chains}: {memory}")
    return "\n".join(lines) + "\n"


README = os.path.join(ROOT, "README.md")
HEADLINE_BEGIN, HEADLINE_END = "<!-- bench-headline:begin -->", "<!-- bench-headline:end -->"
# The README's columns: cvpipe with 2 workers against each of these rows (their names' start).
HEADLINE_PEERS = [("vs OpenCV loop in Python", "OpenCV loop in Python"), ("vs GStreamer", "GStreamer"),
                  ("vs Python `Pool.imap`", "Python multiprocessing Pool.imap"),
                  ("vs Python with shared memory", "Python multiprocessing, shared-memory slots")]


def render_headline(report):
    """The README's table: cvpipe with 2 workers against the others, a ratio of fps each, and its
    efficiency beside the machine's ceiling's."""
    lines = [f"From `tests/bench/run` on {report['date']}, on {report['machine']}:", "",
             "| clip, chain | " + " | ".join(title for title, _ in HEADLINE_PEERS) + " | efficiency (ceiling's) |",
             "|---|" + "---:|" * (len(HEADLINE_PEERS) + 1)]
    groups = dict.fromkeys((r["size"], r["chain"]) for r in report["rows"] if r["chain"] != "no-op")
    for size, chain in groups:
        rows = [r for r in report["rows"] if r["size"] == size and r["chain"] == chain]
        ours = next((r for r in rows if r["row"] == "cvpipe 2 workers"), None)
        if not ours:
            continue
        cells = []
        for _, start in HEADLINE_PEERS:
            peer = next((r for r in rows if r["row"].startswith(start) and not r.get("failed")), None)
            cells.append(f"{ours['fps'] / peer['fps']:.2f}x" if peer and peer["fps"] == peer["fps"] else "—")
        ceiling = next((r for r in rows if "ceiling" in r["row"]), None)
        cells.append(f"{figure(ours['efficiency'], '.2f')} ({figure(ceiling['efficiency'], '.2f') if ceiling else '—'})")
        lines.append(f"| {size}, {chain} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def short_name(row):
    """A row's name as the chart's axis shows it."""
    name = row.replace(", one decoder thread each (the machine's ceiling)", " (ceiling)")
    name = name.replace("OpenCV loop in Python, OpenCV threads on", "OpenCV loop (Python)")
    name = name.replace("Python multiprocessing", "Python mp")
    name = name.replace(", 1 OpenCV thread", "")
    return name


def draw_chart(report, path):
    """Frames a second per row, one panel per size and chain, the machine's ceiling marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = list(dict.fromkeys((r["size"], r["chain"]) for r in report["rows"] if r["chain"] != "no-op"))
    columns = 2 if len(groups) > 1 else 1
    lines = (len(groups) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(7 * columns, 3.6 * lines), squeeze=False)
    for ax, (size, chain) in zip(axes.flat, groups):
        rows = [r for r in report["rows"] if r["size"] == size and r["chain"] == chain and r["fps"] == r["fps"]]
        names = [short_name(r["row"]) for r in rows]
        colours = ["#999999" if "ceiling" in r["row"] else "#1f77b4" if r["row"].startswith("cvpipe") else "#ff7f0e"
                   for r in rows]
        ax.barh(range(len(rows)), [r["fps"] for r in rows], color=colours)
        ax.set_yticks(range(len(rows)), names, fontsize=8)
        ax.invert_yaxis()
        ceiling = next((r["fps"] for r in rows if "ceiling" in r["row"]), None)
        if ceiling:
            ax.axvline(ceiling, color="#444444", linestyle="--", linewidth=1)
            ax.text(ceiling, len(rows) - 0.4, " ceiling", fontsize=8, color="#444444", va="bottom")
        ax.set_title(f"{size}, {chain} chain", fontsize=10)
        ax.set_xlabel("frames a second (whole process)", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"cvpipe and the alternatives, {report['date']}, {report['machine']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def write_report(report, out):
    rows = report["rows"]
    header = ROW_FIELDS
    with open(os.path.join(out, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r["size"], r["chain"], r["row"], figure(r["fps"], ".1f"), figure(r["steady_fps"], ".1f"),
                        figure(r["cpu_ms_per_frame"], ".2f"), figure(r["peak_pss_mb"], ".0f"), figure(r["efficiency"], ".2f"),
                        figure(r["steady_efficiency"], ".2f"), r.get("failed", "") or ""])
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    text = render_markdown(report)
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(text)
    try:
        draw_chart(report, os.path.join(out, "bench.png"))
    except ImportError:
        log("bench: no chart (python3-matplotlib is not installed)")
    print(text)


def replace_between(page, begin_marker, end_marker, text):
    """`page` with what is between the two markers replaced by `text`."""
    begin, end = page.find(begin_marker), page.find(end_marker)
    if begin < 0 or end < begin:
        raise RuntimeError(f"no {begin_marker} ... {end_marker} section")
    return page[:begin + len(begin_marker)] + "\n" + text + page[end:]


# Where a run's renderings go: the page, its markers, and what writes between them.
PUBLISHED = [(DOCS_PAGE, TABLE_BEGIN, TABLE_END, render_markdown), (README, HEADLINE_BEGIN, HEADLINE_END, render_headline)]


def publish(out):
    os.makedirs(DOCS_DIR, exist_ok=True)
    for name in ("bench.json", "bench.png"):
        if os.path.exists(os.path.join(out, name)):
            shutil.copyfile(os.path.join(out, name), os.path.join(DOCS_DIR, name))
    with open(os.path.join(out, "bench.json")) as f:
        report = json.load(f)
    for path, begin, end, render in PUBLISHED:
        with open(path) as f:
            page = f.read()
        with open(path, "w") as f:
            f.write(replace_between(page, begin, end, render(report)))
    log(f"bench: published into {DOCS_PAGE}, {README} and {DOCS_DIR}")


def check_docs():
    with open(os.path.join(DOCS_DIR, "bench.json")) as f:
        report = json.load(f)
    for path, begin, end, render in PUBLISHED:
        with open(path) as f:
            page = f.read()
        if replace_between(page, begin, end, render(report)) != page:
            print(f"FAILED: {os.path.relpath(path, ROOT)} does not show what docs/performance/bench.json renders "
                  "to between its markers; run tests/bench/run --publish (a new run), or mend the page")
            return 1
    if not os.path.exists(os.path.join(DOCS_DIR, "bench.png")):
        print(f"FAILED: {DOCS_DIR}/bench.png, the chart of that run, is missing")
        return 1
    print("ok: docs/performance.md and README.md show docs/performance/bench.json")
    return 0


if __name__ == "__main__":
    try:
        main()
    except RowFailed as e:  # a row that may not fail: its command's stderr, then the one line
        log(e.detail)
        sys.exit(f"bench: {e}")
    except RuntimeError as e:  # a run outside the rows' (memory, hop, latency)
        log(str(e))
        sys.exit(f"bench: {failure_reason(e)}")
