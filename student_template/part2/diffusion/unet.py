"""The U-Net's building blocks (graded) and a small Unet made of them (provided)."""
import math

import torch
from torch import nn


class SinusoidalPositionEmbeddings(nn.Module):
    """Transformer-style embeddings of (B,) timesteps, of shape (B, dim)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        # TODO: half = dim // 2 frequencies exp(-log(10000) * k / (half - 1)); sin then cos of time * freq
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        # TODO: the scale dim_head ** -0.5, a bias-free 1x1 conv to q, k, v and a 1x1 conv back to dim
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, x):
        # TODO: q, k, v as (B, heads, dim_head, H*W); softmax(q^T k) over keys; weighted sum of v; to_out
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class ResnetBlock(nn.Module):
    """Two conv-norm-SiLU blocks with a residual connection; the time embedding scales and shifts block 1."""

    def __init__(self, dim, dim_out, time_emb_dim=None, groups=8):
        super().__init__()
        # TODO: mlp (if time_emb_dim), conv1 + norm1, conv2 + norm2, res_conv, in this order
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, x, time_emb=None):
        # TODO: block 1 (with scale and shift from the time embedding), block 2, plus the residual
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class Unet(nn.Module):
    """A small U-Net that predicts noise from (x_t, t), built from the blocks above (provided).

    With `num_classes`, it also takes a class label (or None for "no condition"), for
    classifier-free guidance: `model(x, t, cond)`.
    """

    def __init__(self, dim=16, channels=1, dim_mults=(1, 2), groups=4, num_classes=None):
        super().__init__()
        time_dim = dim * 4
        self.channels = channels
        self.time_mlp = nn.Sequential(
            SinusoidalPositionEmbeddings(dim), nn.Linear(dim, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim)
        )
        self.class_emb = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        self.num_classes = num_classes
        self.init_conv = nn.Conv2d(channels, dim, 3, padding=1)
        dims = [dim] + [dim * m for m in dim_mults]
        self.downs = nn.ModuleList()
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(dim_mults) - 1
            self.downs.append(nn.ModuleList([
                ResnetBlock(d_in, d_out, time_dim, groups),
                ResnetBlock(d_out, d_out, time_dim, groups),
                nn.Identity() if last else nn.Conv2d(d_out, d_out, 4, stride=2, padding=1),
            ]))
        mid = dims[-1]
        self.mid_block1 = ResnetBlock(mid, mid, time_dim, groups)
        self.mid_attn = Attention(mid, heads=2, dim_head=16)
        self.mid_block2 = ResnetBlock(mid, mid, time_dim, groups)
        self.ups = nn.ModuleList()
        for i, (d_in, d_out) in enumerate(reversed(list(zip(dims[:-1], dims[1:])))):
            last = i == len(dim_mults) - 1
            self.ups.append(nn.ModuleList([
                ResnetBlock(d_out * 2, d_in, time_dim, groups),
                ResnetBlock(d_in, d_in, time_dim, groups),
                nn.Identity() if last else nn.ConvTranspose2d(d_in, d_in, 4, stride=2, padding=1),
            ]))
        self.final_conv = nn.Conv2d(dim, channels, 1)

    def forward(self, x, time, cond=None):
        t = self.time_mlp(time)
        if self.class_emb is not None:
            # Label num_classes stands for "no condition".
            if cond is None:
                cond = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            t = t + self.class_emb(cond)
        x = self.init_conv(x)
        skips = []
        for block1, block2, downsample in self.downs:
            x = block2(block1(x, t), t)
            skips.append(x)
            x = downsample(x)
        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)) + x, t)
        for block1, block2, upsample in self.ups:
            x = block2(block1(torch.cat((x, skips.pop()), dim=1), t), t)
            x = upsample(x)
        return self.final_conv(x)
