#!/usr/bin/env bash
# Penalty weights chosen by validation, the same budget for every model.
#
# For each model and each value of its weight (lambda; beta for beta-VAE) x each seed: train with the same
# architecture, batch, optimizer and epochs on the training images minus a held-out validation split (Fashion-MNIST:
# the first 50,000 training images; the last 10,000 are the validation split), score FD/KID of generated images
# against the validation split on the classifier features, choose per model the value with the lowest mean
# validation FD, and only then score the chosen runs against the test split on both feature sets (classifier and
# ImageNet ResNet-18). The VAE (beta = 1) is trained as the untuned reference. Everything goes under $OUT_DIR.
#
#   bash bench/wwae/sweep.sh                                    # full sweep (GPU machine: DEVICE=cuda)
#   TINY=1 DEVICE=cpu bash bench/wwae/sweep.sh                  # a few minutes on a CPU: proves the pipeline
#
# Settings (environment): DEVICE, CLASSIFIER, EPOCHS, SEEDS, WWAE_LAMBDAS, MMD_LAMBDAS, GAN_LAMBDAS, BETAS, LIMIT (training
# images), SAMPLES (generated images per classifier score), RESNET_SAMPLES, EXTRA (more wwae train options),
# WWAE (the command that runs the tool), PYTHON.
set -euo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT_DIR:-runs/wwae/sweep}
WWAE=${WWAE:-dotnet run --project src/Wwae.Cli -c Release --}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${TINY:-}" ]; then
  EPOCHS=${EPOCHS:-1}; SEEDS=${SEEDS:-1,2}; LIMIT=${LIMIT:-3000}; SAMPLES=${SAMPLES:-500}; RESNET_SAMPLES=${RESNET_SAMPLES:-20}
  WWAE_LAMBDAS=${WWAE_LAMBDAS:-1 10}; MMD_LAMBDAS=${MMD_LAMBDAS:-1 10}; GAN_LAMBDAS=${GAN_LAMBDAS:-0.3 1}; BETAS=${BETAS:-0.5 2}
  EXTRA=${EXTRA:---width 8 --max-steps-per-epoch 10}; CLASSIFIER_EPOCHS=${CLASSIFIER_EPOCHS:-1}
else
  EPOCHS=${EPOCHS:-20}; SEEDS=${SEEDS:-1,2,3}; LIMIT=${LIMIT:-50000}; SAMPLES=${SAMPLES:-10000}; RESNET_SAMPLES=${RESNET_SAMPLES:-1000}
  WWAE_LAMBDAS=${WWAE_LAMBDAS:-0.3 1 3 10 30}; MMD_LAMBDAS=${MMD_LAMBDAS:-1 3 10 30 100}; GAN_LAMBDAS=${GAN_LAMBDAS:-0.1 0.3 1 3 10}
  BETAS=${BETAS:-0.25 0.5 1 2 4}; EXTRA=${EXTRA:-}; CLASSIFIER_EPOCHS=${CLASSIFIER_EPOCHS:-5}
fi
mkdir -p "$OUT"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ) host: $(hostname) device: $DEVICE epochs: $EPOCHS seeds: $SEEDS limit: $LIMIT extra: $EXTRA" | tee "$OUT/settings.txt"

# The classifier whose features score the runs: the one docs/wwae.md uses (Fashion-MNIST), or CLASSIFIER=FILE, or,
# when that file does not exist, one trained here with the same recipe.
CLASSIFIER=${CLASSIFIER:-docs/wwae/models/classifier.bin}
[ -f "$CLASSIFIER" ] || $WWAE train-classifier --epochs "$CLASSIFIER_EPOCHS" --device "$DEVICE" --seed 7 --out "$CLASSIFIER"

train() {  # model option value -> one folder per seed under $OUT/runs/MODEL-VALUE/
  local model=$1 option=$2 value=$3
  # shellcheck disable=SC2086
  $WWAE compare --models "$model" --seeds "$SEEDS" $option "$value" --epochs "$EPOCHS" --limit "$LIMIT" --device "$DEVICE" \
    --out "$OUT/runs/$model-$value" --resume $EXTRA
  $WWAE eval --runs "$OUT/runs/$model-$value" --split validation --features classifier --classifier "$CLASSIFIER" \
    --samples "$SAMPLES" --device "$DEVICE" --out "$OUT/validation/$model-$value.json"
}
for v in $WWAE_LAMBDAS; do train wwae --lambda "$v"; done
for v in $MMD_LAMBDAS; do train wae-mmd --lambda "$v"; done
for v in $GAN_LAMBDAS; do train wae-gan --lambda "$v"; done
for v in $BETAS; do train beta-vae --beta "$v"; done
# The untuned VAE (the scaled ELBO): its own folder, validation score kept for the table.
$WWAE compare --models vae --seeds "$SEEDS" --epochs "$EPOCHS" --limit "$LIMIT" --device "$DEVICE" --out "$OUT/runs/vae-elbo" --resume $EXTRA
$WWAE eval --runs "$OUT/runs/vae-elbo" --split validation --features classifier --classifier "$CLASSIFIER" --samples "$SAMPLES" --device "$DEVICE" --out "$OUT/validation/vae-elbo.json"

# Choose per model on validation FD; write the chosen folders.
$PYTHON "$HERE/sweep_summary.py" choose "$OUT" > "$OUT/chosen.txt"
cat "$OUT/chosen.txt"
while read -r model value; do
  $WWAE eval --runs "$OUT/runs/$model-$value" --split test --features classifier --classifier "$CLASSIFIER" --samples "$SAMPLES" --device "$DEVICE" --out "$OUT/test/classifier-$model-$value.json"
  $WWAE eval --runs "$OUT/runs/$model-$value" --split test --features resnet18 --samples "$RESNET_SAMPLES" --device "$DEVICE" --out "$OUT/test/resnet18-$model-$value.json"
done < "$OUT/chosen.txt"
$PYTHON "$HERE/sweep_summary.py" table "$OUT" | tee "$OUT/summary.md"
