#!/usr/bin/env bash
# Models taught by FER+'s votes (issue 28): each face's vote distribution as the target (with
# ORIGINAL_WEIGHT of it the original FER-2013 label), v13's camera-domain augmentations and real
# photographs, no distillation, width 3.0. Every step is skipped when its output exists and
# training resumes from its newest epoch, so running this again after a lost session continues.
#   nohup nice -n 19 scripts/model/train_ferplus.sh > train-runs/v14.log 2>&1 &       # v14
#   RUN=v15 ORIGINAL_WEIGHT=0.3 nohup nice -n 19 scripts/model/train_ferplus.sh > train-runs/v15.log 2>&1 &
# A fine-tuning run starts from another run's averaged weights (FROM=v14) for EPOCHS epochs at LR
# and averages the epochs from AVERAGE_FROM on, e.g.
#   RUN=v17 FROM=v14 EPOCHS=8 LR=5e-4 AVERAGE_FROM=4 ORIGINAL_WEIGHT=0.4 scripts/model/train_ferplus.sh
# EXTRA holds further train_model.py options, appended so they win over the recipe's (keep it the
# same when resuming), e.g. EXTRA="--blur-sigma 3.0 --downscale-px 12 40".
set -eu
cd "$(dirname "$0")/../.."
run=${RUN:-v14}
original_weight=${ORIGINAL_WEIGHT:-0}
real=train-runs/lfw_faces48.npz
epochs=${EPOCHS:-40}
average_from=${AVERAGE_FROM:-30}
lr=${LR:-3e-3}
init=()
[ -z "${FROM:-}" ] || init=(--init-weights "train-runs/$FROM/averaged.weights.h5" --warmup-epochs 0.2)
export TF_ENABLE_ONEDNN_OPTS=1
read -r -a extra <<< "${EXTRA:-}"

[ -f "$real" ] || .venv/bin/python scripts/model/prep_real_faces.py \
    --real-photos ../shared/data/lfw-expressions --out "$real"             # about 7 min

if ! grep -q '"done"' "train-runs/$run/done.json" 2>/dev/null; then
    scripts/model/train_resume_loop.sh 20 .venv-tf/bin/python scripts/model/train_model.py \
        --run "$run" --size 64 --width 3.0 --stem 16 --stem-stride 2 --batch 128 --lr "$lr" \
        --epochs "$epochs" --erase-prob 0.15 --dropout 0.1 --class-weight-power 0.3 \
        --ferplus ../shared/data/ferplus --vote-min 2 --original-weight "$original_weight" \
        --label-smoothing 0 \
        --mixup 0 --keep-checkpoints 0 --threads 2 --shift-px 4.8 --scale 0.17 \
        --light-prob 0.3 --blur-prob 0.25 --downscale-prob 0.3 --noise-prob 0.3 --jpeg-prob 0.3 \
        --real-faces "$real" --real-share 0.25 --real-smoothing 0.1 \
        --real-balance 0.5 --real-calib-percent 10 "${init[@]}" "${extra[@]}"
    echo '{"done": true}' > "train-runs/$run/done.json"
fi
[ -f "train-runs/$run/averaged.weights.h5" ] || .venv-tf/bin/python scripts/model/train_model.py \
    --run "$run" --average "$average_from" --threads 2 --ferplus ../shared/data/ferplus \
    --real-faces "$real" --real-share 0.25 --real-calib-percent 10
[ -f "models/emotion_${run}_int8.tflite" ] || .venv-tf/bin/python scripts/model/train_model.py \
    --run "$run" --export --weights averaged
echo "trained and exported: models/emotion_${run}_int8.tflite"
