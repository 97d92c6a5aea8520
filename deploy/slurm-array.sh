#!/usr/bin/env bash
# One corpus activation index spread over a Slurm array: each task indexes its shard
# (saex reads SLURM_ARRAY_TASK_ID/MIN/COUNT) into its own folder on a shared file system;
# the merge job, which waits for the whole array, combines them into exactly the index one
# machine would have built.
#
#   sbatch deploy/slurm-array.sh          (edit the paths below first)
#
#SBATCH --job-name=saex-index
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=3G
#SBATCH --requeue
#SBATCH --output=saex-index-%A_%a.log
set -euo pipefail
DATA=${DATA:-/shared/saex}
saex index build --model "$DATA/models/gemma-3-270m-q4_k_m.gguf" --sae "$DATA/saes/demo-sae" \
  --corpus "$DATA/corpus/corpus.jsonl" --out "$DATA/index/shards/$SLURM_ARRAY_TASK_ID"
# The last task to finish submits nothing; submit the merge once, from task 0, as a job that
# waits for the whole array:
if [ "$SLURM_ARRAY_TASK_ID" = "${SLURM_ARRAY_TASK_MIN:-0}" ]; then
  sbatch --dependency="afterok:$SLURM_ARRAY_JOB_ID" --job-name=saex-index-merge --cpus-per-task=1 --mem=2G \
    --wrap "saex index merge $DATA/index/shards/* --out $DATA/index/merged"
fi
