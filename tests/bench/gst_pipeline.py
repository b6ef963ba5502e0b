"""A gst-launch-1.0 pipeline description run through GStreamer's Python bindings, only to time it:
a probe on the sink's pad notes when the first and the last buffer arrive (gst-launch cannot
say). The benchmark's whole-run figures for GStreamer come from gst-launch-1.0 itself.

usage: gst_pipeline.py EXPECTED_FRAMES ELEMENT ARGS...   (the words gst-launch-1.0 would take;
the last element must be named `out`, e.g. `fakesink name=out sync=false`)
Prints {"frames": N, "first_s": T, "last_s": T} (time.monotonic()).
"""
import json
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    expected, description = int(sys.argv[1]), " ".join(sys.argv[2:])
    Gst.init(None)
    pipeline = Gst.parse_launch(description)
    seen = {"n": 0, "first": None, "last": None}

    def on_buffer(_pad, _info):
        seen["last"] = time.monotonic()
        seen["first"] = seen["first"] or seen["last"]
        seen["n"] += 1
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("out").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    loop = GLib.MainLoop()
    failed = []

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            failed.append(message.parse_error()[0].message)
            loop.quit()
        elif message.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if failed:
        sys.exit(f"gst_pipeline: {failed[0]}")
    if seen["n"] != expected:
        sys.exit(f"gst_pipeline: {seen['n']} buffers, expected {expected}")
    print(json.dumps({"frames": seen["n"], "first_s": seen["first"], "last_s": seen["last"]}))


if __name__ == "__main__":
    main()
