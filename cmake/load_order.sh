#!/bin/sh
# load_order.sh MODULE OUT: writes to OUT the libraries MODULE loads (its whole closure, as ldd
# resolves it), one path per line, those with the most symbol relocations first. cvpipe-io.so is
# linked with this list before its own libraries, so that its DT_NEEDED, and with it the order in
# which the dynamic loader searches its closure for each symbol, puts first the libraries whose
# symbols are looked up most (mostly by themselves: libgdal binds tens of thousands of its own).
# The set of libraries loaded does not change, only the search order: the loader's search for a
# symbol then ends about twice as soon (see CMakeLists.txt).
set -eu
module=$1
out=$2
closure=$(ldd "$module")
if printf '%s\n' "$closure" | grep -q 'not found'; then
  echo "load_order.sh: $module: a library is missing:" >&2
  printf '%s\n' "$closure" | grep 'not found' >&2
  exit 1
fi
# Only libraries the loader finds by its default search (its cache): one found through another
# library's RUNPATH could not be found from cvpipe-io.so; those keep their usual place.
cached=$(ldconfig -p | awk '$(NF-1) == "=>" {print $NF}')
printf '%s\n' "$closure" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
  printf '%s\n' "$cached" | grep -Fxq "$lib" || continue
  # Symbol relocations: all relocations (RELASZ and PLTRELSZ, 24 bytes each) less the relative ones.
  n=$(readelf -d "$lib" | awk '/\(RELASZ\)|\(PLTRELSZ\)/ {s += $3 / 24} /\(RELACOUNT\)/ {s -= $3} END {print s + 0}')
  printf '%s %s\n' "$n" "$lib"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2- >"$out"
[ -s "$out" ] || { echo "load_order.sh: ldd found no library in $module" >&2; exit 1; }
