"""Random Mamba configs round-tripped through transformers' MambaConfig, for tests/hf_config_test.ts.

Each case: keyword arguments drawn at random (seeded), given to MambaConfig, written with
save_pretrained (the config.json transformers writes), read back with from_pretrained, and the
attributes transformers' Mamba model then uses recorded beside the file's text. The TypeScript
parser must read every config.json to the same numbers.

    python -m venv .venv-hf && .venv-hf/bin/pip install transformers==5.24.0  # (torch not needed)
    .venv-hf/bin/python tools/hf/config_fixtures.py > testdata/hf/configs.json
"""

import json
import random
import sys
import tempfile

import transformers
from transformers import MambaConfig

ATTRS = [
    "hidden_size", "intermediate_size", "state_size", "conv_kernel", "time_step_rank",
    "num_hidden_layers", "vocab_size", "layer_norm_epsilon", "use_bias", "use_conv_bias",
    "tie_word_embeddings",
]


def draw(rng: random.Random) -> dict:
    kw = {
        "hidden_size": rng.choice([4, 8, 16, 44, 64, 768, 2560]) + rng.choice([0, 0, 1, 3]),
        "state_size": rng.randint(1, 32),
        "conv_kernel": rng.randint(1, 6),
        "num_hidden_layers": rng.randint(1, 64),
        "vocab_size": rng.choice([61, 1000, 50280, 50277, 32000]),
    }
    if rng.random() < 0.5:
        kw["expand"] = rng.randint(1, 4)
    if rng.random() < 0.4:
        kw["intermediate_size"] = rng.randint(1, 300)
    if rng.random() < 0.5:
        kw["time_step_rank"] = rng.randint(1, 200)
    if rng.random() < 0.3:
        kw["layer_norm_epsilon"] = rng.choice([1e-5, 1e-6, 3e-4])
    for flag in ["use_bias", "use_conv_bias", "tie_word_embeddings", "residual_in_fp32"]:
        if rng.random() < 0.3:
            kw[flag] = rng.random() < 0.5
    return kw


def main() -> None:
    rng = random.Random(0)
    cases = []
    for _ in range(200):
        kw = draw(rng)
        with tempfile.TemporaryDirectory() as d:
            MambaConfig(**kw).save_pretrained(d)
            text = open(f"{d}/config.json").read()
            back = MambaConfig.from_pretrained(d)
        cases.append({"kwargs": kw, "config_json": text, "attrs": {a: getattr(back, a) for a in ATTRS}})
    json.dump({"transformers": transformers.__version__, "seed": 0, "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
