#!/usr/bin/env bash
# After scripts/model/train_ferplus.sh: the new model's sidecar, its temperature fitted against the
# votes, and every figure of its model card beside the shipped models, into train-runs/bench/RUN/
# (git-ignored). Each step is skipped when its output exists, so running it again goes on where
# it stopped.
#   RUN=v16 nohup nice -n 5 scripts/model/finish_model.sh > train-runs/finish-v16.log 2>&1 &
# COMPARE: the models it is measured beside (default: the shipped v14 and v13).
set -eu
cd "$(dirname "$0")/../.."
run=${RUN:?RUN=vNN names the run}
out=train-runs/bench/$run
py=.venv/bin/python
mkdir -p "$out"
fer=../shared/data/fer2013/public_test.npz
votes=../shared/data/ferplus/public_test.npz
read -r -a compare <<< "${COMPARE:-emotion_v14_int8.tflite emotion_v13_int8.tflite}"
models=("emotion_${run}_int8.tflite" "${compare[@]}")
against=()
for m in "${compare[@]}"; do against+=(--compare "$m"); done

step() { local file=$1; shift; [ -s "$file" ] && return 0; echo "$(date -u +%T) $*"; "$@" > "$file.tmp" && mv "$file.tmp" "$file"; }
config() { printf '[emotion]\nmodel = "%s"\n' "$1" > "$out/$2.toml"; }

[ -f "models/emotion_${run}_int8.json" ] || $py scripts/model/eval_emotion_model.py --run "$run" --single
step "$out/temperature.json" $py scripts/model/fit_temperature.py "${models[0]}" \
    --calib-percent 10 --votes ../shared/data/ferplus --write
step "$out/eval_votes.json" $py -m moodpi evaluate --dataset "$fer" --votes "$votes" \
    --model "${models[0]}" "${against[@]}" --json
step "$out/eval_photos.json" $py -m moodpi evaluate --photos ../shared/data/lfw-expressions \
    --model "${models[0]}" "${against[@]}" --json
step "$out/conditions.txt" $py scripts/model/eval_conditions.py "${models[@]}" \
    --out "$out/conditions.json"
config "${models[0]}" new
config "${compare[0]}" old
step "$out/bench_new.json" $py -m moodpi bench --config "$out/new.toml" --json
step "$out/bench_old.json" $py -m moodpi bench --config "$out/old.toml" --json
echo "$(date -u +%T) done"
