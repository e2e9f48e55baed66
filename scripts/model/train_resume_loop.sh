#!/usr/bin/env bash
# Re-run a training command until it exits 0: train_model.py resumes from its newest epoch
# checkpoint when run again with the same arguments, so a crash (TF 2.15's oneDNN kernels have
# segfaulted in fit) costs at most the epoch in progress.
#   nohup nice -n 15 scripts/model/train_resume_loop.sh 20 env TF_ENABLE_ONEDNN_OPTS=1 \
#       .venv-tf/bin/python scripts/model/train_model.py --run v11 ... > train-runs/v11/loop.log 2>&1 &
set -u
max_tries=$1
shift
for try in $(seq 1 "$max_tries"); do
    echo "$(date -u +%FT%TZ) try $try of $max_tries: $*"
    "$@"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "$(date -u +%FT%TZ) finished"
        exit 0
    fi
    echo "$(date -u +%FT%TZ) exit status $rc; resuming in 10 s"
    sleep 10
done
echo "$(date -u +%FT%TZ) gave up after $max_tries tries"
exit 1
