"""mixloom: declarative data-mixture recipes from raw corpora to a trained model.

Offline by default: nothing is fetched from a model hub at run time, and no telemetry is sent.
Only `HF_HUB_OFFLINE` is defaulted (transformers and datasets both obey it); `TRANSFORMERS_OFFLINE` and
`HF_DATASETS_OFFLINE` are left to the user, so importing mixloom into a program does not switch off its
own downloads behind its back. Set `HF_HUB_OFFLINE=0` to let mixloom reach the hub.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
