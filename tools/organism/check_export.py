"""Checks that the trainer's JAX model and the exported Hugging Face checkpoint compute the same
function: loads data/models/organism with the project's independent NumPy reference
(tests/reference/mamba_numpy.py, transformers' slow path), maps the weights back into the JAX
model, and compares the logits of a prompt at every position.

    python tools/organism/check_export.py [data/models/organism]
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "tests" / "reference"))

import mamba_numpy  # noqa: E402
import train  # noqa: E402


def main():
    import jax.numpy as jnp

    model = sys.argv[1] if len(sys.argv) > 1 else "data/models/organism"
    cfg, w = mamba_numpy.load_model(model)
    L = cfg["n_layer"]
    g = lambda name: jnp.asarray(np.asarray(w[name], dtype=np.float32))
    p = {"emb": g("backbone.embeddings.weight"), "norm_f": g("backbone.norm_f.weight"),
         "layers": []}
    for i in range(L):
        pre = f"backbone.layers.{i}"
        p["layers"].append({
            "norm": g(f"{pre}.norm.weight"), "in_proj": g(f"{pre}.mixer.in_proj.weight"),
            "conv_w": g(f"{pre}.mixer.conv1d.weight")[:, 0, :],
            "conv_b": g(f"{pre}.mixer.conv1d.bias"), "x_proj": g(f"{pre}.mixer.x_proj.weight"),
            "dt_proj": g(f"{pre}.mixer.dt_proj.weight"), "dt_bias": g(f"{pre}.mixer.dt_proj.bias"),
            "A_log": g(f"{pre}.mixer.A_log"), "D": g(f"{pre}.mixer.D"),
            "out_proj": g(f"{pre}.mixer.out_proj.weight"),
        })
    ids = [0, 50, 27, 3511, 187, 34, 27, 5412, 187, 187, 50, 27, 1943, 187, 34, 27]
    ours = np.asarray(train.body(p, jnp.asarray([ids])) @ p["emb"].T)[0]
    ref = mamba_numpy.forward(cfg, w, np.array(ids))[0]
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    print(f"JAX trainer vs NumPy reference on the exported checkpoint: max relative error {err:.2e}")
    if err > 1e-4:
        sys.exit("the trainer's model and the exported checkpoint disagree")


if __name__ == "__main__":
    main()
