#!/usr/bin/env bash
# Builds one fuzz target with clang + libFuzzer (+ ASan/UBSan) and fuzzes it
# for a chosen time, starting from its checked-in corpus. New inputs that
# find new coverage go to .cache/fuzz/<target>/ (not checked in; copy the
# interesting ones into tests/fuzz/corpus/<target>/).
#
#   scripts/fuzz.sh decoders 300      # 5 minutes
#   scripts/fuzz.sh run_id|config|events_filter SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh decoders|run_id|config|events_filter SECONDS}"
seconds="${2:-60}"
bash scripts/setup.sh

sources=(tests/fuzz/${target}_fuzz.cc)
modules=(absl_status absl_statusor absl_strings absl_str_format absl_time)
case "$target" in
  decoders)
    sources+=(adapters/databricks/{decoders,errors,text,types}.cc)
    modules+=(simdjson) ;;
  run_id)
    sources+=(adapters/databricks/{ids,text}.cc) ;;
  config)
    mkdir -p .cache/fuzz/gen
    protoc -Iproto --cpp_out=.cache/fuzz/gen \
      proto/polysync/databricks/v1/config.proto
    sources+=(server/config.cc common/{log,secrets}.cc
              .cache/fuzz/gen/polysync/databricks/v1/config.pb.cc)
    modules+=(protobuf nlohmann_json) ;;
  events_filter)
    sources+=(adapters/databricks/{request_bodies,ids,text,types}.cc)
    modules+=(nlohmann_json) ;;
  *) echo "unknown target $target" >&2; exit 64 ;;
esac

out=.cache/fuzz
mkdir -p "$out/$target"
# shellcheck disable=SC2046
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I. -I.cache/fuzz/gen \
  $(pkg-config --cflags "${modules[@]}") "${sources[@]}" \
  $(pkg-config --libs "${modules[@]}") -o "$out/${target}_fuzzer"
echo "fuzzing $target for ${seconds}s" >&2
"$out/${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  "$out/$target" "tests/fuzz/corpus/$target"
