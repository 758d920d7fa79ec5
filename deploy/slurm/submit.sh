#!/bin/bash
# Submit a sharded warta batch run and its merge:
#
#   INPUT_DIR=/shared/archive OUTPUT_ROOT=/shared/archive-en ./submit.sh 16 [extra warta batch options]
#
# The first argument is the number of shards (array tasks); the rest go to `warta batch` (e.g.
# --format markdown --summarizer extractive). Run it again after a crash or a time-out to resume.

set -euo pipefail

shards=${1:?usage: submit.sh SHARDS [warta batch options]}
shift
: "${INPUT_DIR:?set INPUT_DIR}"
: "${OUTPUT_ROOT:?set OUTPUT_ROOT}"
export INPUT_DIR OUTPUT_ROOT
here=$(cd "$(dirname "$0")" && pwd)

array=$(sbatch --parsable --export=ALL --array="0-$((shards - 1))" "$here/warta-batch.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterany:$array" "$here/warta-merge.sbatch")
echo "submitted array job $array ($shards shards) and merge job $merge"
