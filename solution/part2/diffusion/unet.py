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
        # BEGIN SOLUTION: half = dim // 2 frequencies exp(-log(10000) * k / (half - 1)); sin then cos of time * freq
        half_dim = self.dim // 2
        scale = math.log(10000) / (half_dim - 1)
        freqs = torch.exp(torch.arange(half_dim, device=time.device) * -scale)
        args = time[:, None].float() * freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1)
        # END SOLUTION


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map."""

    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        # BEGIN SOLUTION: the scale dim_head ** -0.5, a bias-free 1x1 conv to q, k, v and a 1x1 conv back to dim
        self.scale = dim_head ** -0.5
        hidden_dim = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden_dim, dim, 1)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION: q, k, v as (B, heads, dim_head, H*W); softmax(q^T k) over keys; weighted sum of v; to_out
        b, _, h, w = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=1)
        q, k, v = (part.reshape(b, self.heads, self.dim_head, h * w) for part in (q, k, v))
        q = q * self.scale
        sim = torch.einsum("bhdi,bhdj->bhij", q, k)
        attn = sim.softmax(dim=-1)
        out = torch.einsum("bhij,bhdj->bhid", attn, v)
        out = out.permute(0, 1, 3, 2).reshape(b, self.heads * self.dim_head, h, w)
        return self.to_out(out)
        # END SOLUTION


class ResnetBlock(nn.Module):
    """Two conv-norm-SiLU blocks with a residual connection; the time embedding scales and shifts block 1."""

    def __init__(self, dim, dim_out, time_emb_dim=None, groups=8):
        super().__init__()
        # BEGIN SOLUTION: mlp (if time_emb_dim), conv1 + norm1, conv2 + norm2, res_conv, in this order
        self.mlp = (
            nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
            if time_emb_dim is not None else None
        )
        self.conv1 = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, dim_out)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, dim_out)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()
        self.act = nn.SiLU()
        # END SOLUTION

    def forward(self, x, time_emb=None):
        # BEGIN SOLUTION: block 1 (with scale and shift from the time embedding), block 2, plus the residual
        h = self.norm1(self.conv1(x))
        if self.mlp is not None and time_emb is not None:
            scale_shift = self.mlp(time_emb)[:, :, None, None]
            scale, shift = scale_shift.chunk(2, dim=1)
            h = h * (scale + 1) + shift
        h = self.act(h)
        h = self.act(self.norm2(self.conv2(h)))
        return h + self.res_conv(x)
        # END SOLUTION


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
