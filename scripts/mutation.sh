#!/usr/bin/env bash
# Mutation check of the files named in pyproject's [tool.mutmut] (issue 17), reproducible by one command:
#   bash scripts/mutation.sh                 # every mutated file
#   bash scripts/mutation.sh curation.mix    # one module (mutmut's mutant names start with the module)
# One child at a time (MUTMUT_CHILDREN=2 for two) and niced: the machine is shared. Results: `.venv/bin/mutmut results`, a mutant's diff:
# `.venv/bin/mutmut show NAME`. mutants/ (the mutated copy and its caches) is git-ignored; delete it to start
# afresh after changing the tests' selection.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 MIXLOOM_QUIET=1
unset PYTHONPATH  # the mutated copy under mutants/ must be what the tests import
globs=()
for m in "$@"; do globs+=("$m.*"); done
nice .venv/bin/mutmut run --max-children ${MUTMUT_CHILDREN:-1} "${globs[@]}"
nice .venv/bin/mutmut results --all true > mutants/results.txt || .venv/bin/mutmut results > mutants/results.txt
echo "survivors and the rest: mutants/results.txt"
