"""How much the frozen text tower's token states say about binding and order (issue 10's pair prompts).

The U-Net reads these states through cross-attention, which sees no token order of its own: a colour can only be
bound to its shape, and "left of" to the right object, if the states carry it. Prints, for swapped prompts (the same
words, the colours exchanged between the shapes), each token's cosine between the two prompts' states, and for the
same word at another position its cosine layer by layer (L0: the embedding layer, word + position).

    python training/text_binding.py [--model assets/default]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_MODEL, TextTower  # noqa: E402

SWAPS = [("a red circle to the left of a blue square", "a blue circle to the left of a red square"),
         ("a green star above a yellow triangle", "a yellow star above a green triangle"),
         ("a red circle to the left of a blue square", "a red circle to the right of a blue square")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    args = ap.parse_args()
    tower = TextTower("cpu", args.model)
    cos = torch.nn.functional.cosine_similarity
    for a, b in SWAPS:
        ta, tb = (tower.tokenizer([p], return_tensors="pt") for p in (a, b))
        with torch.no_grad():
            ha = tower.model(**ta, output_hidden_states=True).hidden_states
            hb = tower.model(**tb, output_hidden_states=True).hidden_states
        words_a = tower.tokenizer.convert_ids_to_tokens(ta.input_ids[0])
        words_b = tower.tokenizer.convert_ids_to_tokens(tb.input_ids[0])
        print(f"{a!r} / {b!r}")
        if len(words_a) == len(words_b):
            same = cos(ha[-1][0], hb[-1][0], dim=-1).tolist()
            print("  last layer, token by token:", " ".join(f"{w}:{c:.3f}" for w, c in zip(words_a, same)))
        for w in dict.fromkeys(words_a):
            if w in words_b and words_a.index(w) != words_b.index(w):
                i, j = words_a.index(w), words_b.index(w)
                layers = " ".join(f"L{n}:{float(cos(ha[n][0, i], hb[n][0, j], dim=0)):.3f}" for n in range(len(ha)))
                print(f"  {w!r} at {i} and {j}: {layers}")


if __name__ == "__main__":
    main()
