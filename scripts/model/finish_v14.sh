#!/usr/bin/env bash
# After scripts/model/train_ferplus.sh: v14's sidecar, its temperature fitted against the votes, and
# every figure of MODEL_CARD_v14.md beside v13 and v10, into train-runs/bench/ (git-ignored).
# Each step is skipped when its output exists, so running it again goes on where it stopped.
#   nohup nice -n 5 scripts/model/finish_v14.sh > train-runs/bench/finish.log 2>&1 &
set -eu
cd "$(dirname "$0")/../.."
out=train-runs/bench
py=.venv/bin/python
mkdir -p "$out"
fer=../shared/data/fer2013/public_test.npz
votes=../shared/data/ferplus/public_test.npz
models=(emotion_v14_int8.tflite emotion_v13_int8.tflite retired/emotion_v10_int8.tflite)

step() { local file=$1; shift; [ -s "$file" ] && return 0; echo "$(date -u +%T) $*"; "$@" > "$file.tmp" && mv "$file.tmp" "$file"; }

[ -f models/emotion_v14_int8.json ] || $py scripts/model/eval_emotion_model.py --run v14 --single
step "$out/temperature_v14.json" $py scripts/model/fit_temperature.py emotion_v14_int8.tflite \
    --calib-percent 10 --votes ../shared/data/ferplus --write
step "$out/eval_votes.json" $py -m moodpi evaluate --dataset "$fer" --votes "$votes" \
    --model "${models[0]}" --compare "${models[1]}" --compare "${models[2]}" --json
step "$out/eval_photos.json" $py -m moodpi evaluate --photos ../shared/data/lfw-expressions \
    --model "${models[0]}" --compare "${models[1]}" --compare "${models[2]}" --json
step "$out/conditions.txt" $py scripts/model/eval_conditions.py "${models[@]}" \
    --out "$out/conditions.json"
step "$out/bench_v14.json" $py -m moodpi bench --config "$out/v14.toml" --json
step "$out/bench_v13.json" $py -m moodpi bench --config "$out/v13.toml" --json
echo "$(date -u +%T) done"
