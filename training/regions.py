"""Regional prompting, the reference for Phosphor's `--layout auto` and `--region` (Sources/Pipeline/Regions.swift):
areas of the image with prompts of their own, each denoised on its crop of the latents with its own classifier-free
guidance and blended into the whole image's guided prediction with feathered weights (MultiDiffusion's region
paths, Bar-Tal et al. 2023; the areas as ComfyUI's "Conditioning (Set Area)": pixels, a strength, edges inside the
image feathered). `auto_layout` turns one relation phrase ("A left of B", "A above B", …) into two such areas.

The Swift code follows these functions line by line; Tests/Fixtures/make_default_model_fixtures.py records their
results for the Swift tests.
"""

# Relation phrases (the scene world's captions, training/scenes.py RELATIONS, and common synonyms), longest first
# where one starts another.
RELATION_PHRASES = [
    ("to the left of", "left"), ("on the left of", "left"), ("left of", "left"),
    ("to the right of", "right"), ("on the right of", "right"), ("right of", "right"),
    ("on top of", "above"), ("above", "above"), ("over", "above"),
    ("underneath", "below"), ("beneath", "below"), ("below", "below"), ("under", "below"),
]
BACKGROUND_WORDS = ("on", "with", "against")


def split_relation(prompt):
    """(first, relation, second) for a prompt with exactly one relation phrase between two non-empty parts, a
    trailing background clause ("on a yellow background") copied to both parts; None otherwise. Words are split on
    whitespace and compared lowercased; the parts are their words joined by single spaces."""
    words = prompt.split()
    lower = [w.lower() for w in words]
    found = []
    i = 0
    while i < len(words):
        for phrase, relation in RELATION_PHRASES:
            p = phrase.split()
            if lower[i:i + len(p)] == p:
                found.append((i, len(p), relation))
                i += len(p) - 1
                break
        i += 1
    if len(found) != 1:
        return None
    at, length, relation = found[0]
    first, second = words[:at], words[at + length:]
    clause = []
    for j in range(len(second) - 1, 0, -1):
        if second[j].lower() in BACKGROUND_WORDS and any(w.lower().rstrip(".,;:!?") == "background" for w in second[j + 1:]):
            second, clause = second[:j], second[j:]
            break
    if not first or not second:
        return None
    return " ".join(first + clause), relation, " ".join(second + clause)


def auto_layout(prompt, width, height):
    """Regions (x, y, w, h, prompt, strength) in pixels for a relation prompt: each part gets the side of the image
    its relation names, a little more than half of it (half + an eighth, rounded up to 8 pixels) so the two overlap
    in the middle; [] when the prompt has no single relation."""
    split = split_relation(prompt)
    if split is None:
        return []
    first, relation, second = split
    horizontal = relation in ("left", "right")
    extent = width if horizontal else height
    side = min(extent, (extent // 2 + extent // 8 + 7) // 8 * 8)
    near, far = 0, extent - side
    if relation in ("right", "below"):
        near, far = far, near
    if horizontal:
        return [(near, 0, side, height, first, DEFAULT_STRENGTH), (far, 0, side, height, second, DEFAULT_STRENGTH)]
    return [(0, near, width, side, first, DEFAULT_STRENGTH), (0, far, width, side, second, DEFAULT_STRENGTH)]


DEFAULT_STRENGTH = 1.5


def feather_width(w, h):
    """Latent pixels over which a region's weight ramps up from an edge inside the image."""
    return max(1, min(8, min(w, h) // 4))


def region_weights(x0, y0, w, h, width, height, strength):
    """[h][w] weights (lists) of a region at latent (x0, y0), size w × h, in a width × height latent: strength times a
    ramp (1/F, 2/F, …, 1) from each edge that lies inside the image (edges on the image's border are not feathered)."""
    f = feather_width(w, h)

    def ramp(i, n, start, total):
        r = 1.0
        if start > 0:
            r = min(r, (i + 1) / f)
        if start + n < total:
            r = min(r, (n - i) / f)
        return r

    return [[strength * ramp(i, h, y0, height) * ramp(j, w, x0, width) for j in range(w)] for i in range(h)]
