#!/usr/bin/env bash
# Draw bench_integrated's throughput with gnuplot:
#   throughput_vs_messages.png  send, send_pooled and the bare loop against
#                               --messages 10^3 .. 10^7 (log scale);
#   throughput_vs_size.png      the same against --size 0 .. 4096 bytes.
# Each point is one `bench_integrated --json` run (median of --runs).
# The JSON of every point and the .dat tables stay beside the PNGs.
#
# usage: bench/plot.sh [OUTDIR] [--build DIR] [--runs R] [--size-messages N]
#   OUTDIR            where to write (default build/plots)
#   --build DIR       the build holding bench/bench_integrated (default build)
#   --runs R          runs per point (default 3)
#   --size-messages N messages per point of the size sweep (default 1000000)
#   --max-messages N  largest point of the count sweep (default 10000000)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=""
build="$root/build"
runs=3
size_msgs=1000000
max_msgs=10000000
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --size-messages) size_msgs=$2; shift 2 ;;
    --max-messages) max_msgs=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "plot.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
out=${out:-$root/build/plots}
bench="$build/bench/bench_integrated"
[ -x "$bench" ] || { echo "plot.sh: no $bench: build first (cmake --build $build)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$out"

# msgs_per_sec of results[] entry $2 (send, send_pooled) or of bare_loop.
rate() {
  if [ "$2" = bare_loop ]; then
    sed -n 's/.*"bare_loop":{"msgs_per_sec":\([0-9.eE+-]*\).*/\1/p' "$1"
  else
    sed -n "s/.*{\"name\":\"$2\",\"msgs_per_sec\":\([0-9.eE+-]*\).*/\1/p" "$1"
  fi
}

# point FILE ARGS...: run the benchmark, keep its JSON, print "send pooled bare" in M msg/s.
point() {
  local json=$1; shift
  "$bench" --json --runs "$runs" "$@" >"$json"
  awk -v s="$(rate "$json" send)" -v p="$(rate "$json" send_pooled)" -v b="$(rate "$json" bare_loop)" \
    'BEGIN { printf "%.4f %.4f %.4f\n", s / 1e6, p / 1e6, b / 1e6 }'
}

echo "# messages send_Mps send_pooled_Mps bare_Mps" >"$out/throughput_vs_messages.dat"
for n in 1000 10000 100000 1000000 10000000; do
  [ "$n" -le "$max_msgs" ] || continue
  echo "plot.sh: --messages $n" >&2
  echo "$n $(point "$out/messages_$n.json" --messages "$n")" >>"$out/throughput_vs_messages.dat"
done

echo "# size send_Mps send_pooled_Mps bare_Mps" >"$out/throughput_vs_size.dat"
for s in 0 16 64 128 255 256 512 1024 2048 4096; do
  echo "plot.sh: --size $s" >&2
  echo "$s $(point "$out/size_$s.json" --messages "$size_msgs" --size "$s")" >>"$out/throughput_vs_size.dat"
done

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
gnuplot <<EOF
set terminal pngcairo noenhanced size 900,560 font "sans,10"
set grid
set key top right
set ylabel "throughput, M msg/s (log scale; median of $runs runs)"
set logscale y
set yrange [*:*]
set ytics ("0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500)
set style line 1 lw 2 pt 7 lc rgb "#8b008b"
set style line 2 lw 2 pt 5 lc rgb "#008b6b"
set style line 3 lw 1 dt 2 pt 1 lc rgb "#4090c0"

set output "$out/throughput_vs_messages.png"
set title "bench_integrated: throughput vs message count (16-byte body, commit $rev)"
set xlabel "messages per run"
set logscale x
set xrange [500:20000000]
set xtics ("1k" 1000, "10k" 10000, "100k" 100000, "1M" 1000000, "10M" 10000000)
plot "$out/throughput_vs_messages.dat" using 1:3 with linespoints ls 1 title "send_pooled", \\
     "" using 1:2 with linespoints ls 2 title "send (caller mallocs URI and body)", \\
     "" using 1:4 with linespoints ls 3 title "bare C loop (no kernel), same runs", \\
     20 with lines lw 1 dt 3 lc rgb "#c00000" title "target: 20 M msg/s"

set output "$out/throughput_vs_size.png"
set title "bench_integrated: throughput vs body size ($size_msgs messages, commit $rev)"
set xlabel "body size, bytes (from 256 the body no longer fits inline: one malloc per message)"
unset logscale x
set xrange [-50:4200]
set xtics autofreq
set xtics add ("256" 256)
plot "$out/throughput_vs_size.dat" using 1:3 with linespoints ls 1 title "send_pooled", \\
     "" using 1:2 with linespoints ls 2 title "send (caller mallocs URI and body)", \\
     "" using 1:4 with linespoints ls 3 title "bare C loop (no kernel), same runs", \\
     20 with lines lw 1 dt 3 lc rgb "#c00000" title "target: 20 M msg/s"
EOF
echo "plot.sh: wrote $out/throughput_vs_messages.png and $out/throughput_vs_size.png" >&2
