#!/usr/bin/python3
"""side_by_side.py N cvpipe run CONFIG --inline: N copies of a cvpipe command at once, each on the
whole clip; prints {"frames", "first_s", "last_s"} over all of them, as the Python peers do.

The benchmark's measure of the machine itself: N sequential runs that share nothing but the
cores, the caches and the memory bus. Their fps (N x frames over the wall clock) against
cores / the baseline's CPU per frame is what this machine gives when every core is busy on the
chain; a pipeline's efficiency can only be read against that.
"""
import json
import subprocess
import sys
import time


def main():
    copies, argv = int(sys.argv[1]), sys.argv[2:]
    started = []
    procs = []
    for _ in range(copies):
        started.append(time.monotonic())
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    frames, firsts, lasts = 0, [], []
    for start, proc in zip(started, procs):
        out, _ = proc.communicate()
        if proc.returncode != 0:
            for other in procs:  # none left running behind the benchmark
                other.kill()
                other.wait()
            sys.exit(f"side_by_side: {' '.join(argv)} exited {proc.returncode}")
        s = json.loads(out.strip().splitlines()[-1])
        frames += s["frames_written"]
        firsts.append(start + s["first_frame_ms"] / 1000)
        lasts.append(start + s["last_frame_ms"] / 1000)
    print(json.dumps({"frames": frames, "first_s": min(firsts), "last_s": max(lasts)}))


if __name__ == "__main__":
    main()
