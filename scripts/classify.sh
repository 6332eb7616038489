#!/usr/bin/env bash
# The main job, from a fresh clone: install what is missing (libtorch), then classify sample
# texts (or the texts given as arguments) with the default model, one JSON line per text.
#   scripts/classify.sh                      # sample texts
#   scripts/classify.sh "What a day!"        # your texts
#   echo "so happy" | scripts/classify.sh -  # one text per line on stdin
# The model: EMOTION_MODEL if set; else ../shared/models/emotion-minilm-ekman where that folder
# is beside the checkout (this project's machines); else the crate's default hub model. The
# classifier says on stderr which one it used.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
shared_model="$root/../shared/models/emotion-minilm-ekman"
if [ -z "${EMOTION_MODEL:-}" ] && [ -d "$shared_model" ]; then
    export EMOTION_MODEL="$shared_model"
fi
if [ "$#" -eq 0 ]; then
    set -- "I can't wait to see you!" "This is the worst day of my life." \
        "Wait, what? I did not see that coming." "Ugh, that is revolting." \
        "I'm scared of what happens next." "The meeting is at 3pm."
elif [ "$1" = "-" ]; then
    shift
fi
exec cargo run --quiet --example classify -- "$@"
