"""Shared pieces of the default-model training: paths, model configurations, the frozen text tower."""
import json
import os

import torch

from scenes import pixel_centres

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT_MODEL = os.path.join(ROOT, "assets", "default")
MAX_TOKENS = 32          # the text tower's context length for the U-Net (captions are short)

VQ_CONFIG = dict(
    in_channels=3, out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
    block_out_channels=[64, 128, 128], layers_per_block=1, act_fn="silu",
    latent_channels=3, sample_size=128, num_vq_embeddings=1024, vq_embed_dim=3, norm_num_groups=32,
)
UNET_CONFIG = dict(
    sample_size=32, in_channels=7, out_channels=3,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    block_out_channels=[64, 128, 160], layers_per_block=1, cross_attention_dim=384,
    attention_head_dim=4, norm_num_groups=32,
)
# U-Net variants (train.py unet --unet-config NAME). "attn32" adds cross- and self-attention at the 32² level too
# (1,024 tokens of 64 channels, 4 heads), where two objects of a scene are still several latent pixels apart: for
# colour–shape–position binding, which milestone 2 lacks. Phosphor runs either (its U-Net is built from config.json).
UNET_CONFIGS = {
    "m1": UNET_CONFIG,
    "attn32": dict(UNET_CONFIG, down_block_types=["CrossAttnDownBlock2D"] * 3, up_block_types=["CrossAttnUpBlock2D"] * 3),
}
# `train.py unet --coords`: two more U-Net input channels after latents, mask and masked latents, each latent pixel's
# centre x and y in [-1, 1], so cross-attention's queries know where they are (issue 10: the pair prompts; see
# binding_probe.py). The exported config says so under this key; Phosphor does not read such a U-Net yet.
COORDINATE_CHANNELS = "phosphor_coordinate_channels"


def coordinate_ramps(n, size, device):
    """[n, 2, size, size]: x (left −1 → right 1) and y (top −1 → bottom 1) of each pixel's centre."""
    return torch.stack(pixel_centres(size, device))[None].expand(n, 2, size, size)


CLIP_VISION_CONFIG = dict(
    image_size=128, patch_size=16, hidden_size=256, intermediate_size=1024,
    num_hidden_layers=4, num_attention_heads=4, projection_dim=384, hidden_act="quick_gelu",
)
SCHEDULER_CONFIG = {
    "_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000,
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon", "timestep_spacing": "leading", "steps_offset": 1,
}


def pick_device(name):
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def autocast(device):
    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


class TextTower:
    """Frozen all-MiniLM-L6-v2 (BERT): token states for cross-attention, mean-pooled unit vectors for CLIP."""

    def __init__(self, device, root=DEFAULT_MODEL):
        from transformers import BertModel, BertTokenizerFast
        self.tokenizer = BertTokenizerFast(os.path.join(root, "tokenizer", "vocab.txt"), do_lower_case=True)
        self.model = BertModel.from_pretrained(os.path.join(root, "text_encoder"), dtype=torch.float32,
                                               add_pooling_layer=False).to(device).eval()
        self.model.requires_grad_(False)
        self.device = device
        # A text tower unpacked by gpu_pack.py holds only the embedding rows of tokens that captions produce:
        # any other token is counted and reported (its row is zero there).
        self.kept, self.misses = None, 0
        kept = os.path.join(root, "text_encoder", "kept_token_ids.json")
        if os.path.exists(kept):
            with open(kept) as f:
                info = json.load(f)
            self.kept = torch.zeros(info["rows"], dtype=torch.bool)
            self.kept[torch.tensor(info["ids"])] = True

    @torch.no_grad()
    def __call__(self, captions):
        captions = list(captions)
        t = self.tokenizer(captions, padding="max_length", truncation=True, max_length=MAX_TOKENS,
                           return_tensors="pt")
        if self.kept is not None:
            missing = ~self.kept[t.input_ids]
            if missing.any():
                self.misses += int(missing.sum())
                if self.misses <= 20:
                    rows = missing.any(1).nonzero().flatten().tolist()
                    print(f"text tower: tokens outside the packed rows in {[captions[i] for i in rows]}", flush=True)
        t = t.to(self.device)
        states = self.model(input_ids=t.input_ids, attention_mask=t.attention_mask).last_hidden_state
        mask = t.attention_mask[..., None].float()
        pooled = (states * mask).sum(1) / mask.sum(1)
        return states, torch.nn.functional.normalize(pooled, dim=-1)


def recommended_layout(model):
    """The layout a model folder recommends (model_index.json's "phosphor" block, as phosphor reads it), "off" if none."""
    try:
        return json.load(open(os.path.join(model, "model_index.json"))).get("phosphor", {}).get("layout", "off")
    except (OSError, ValueError):
        return "off"


def save_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
