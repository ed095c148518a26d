
# ---- attack, appended to the reference models.py by the harness ------------------------
# Attack: right values in shapes that broadcast, or compare equal when a grader
# broadcasts or flattens: sample_noise returns the right noise flattened to
# (batch_size * dim,); Discriminator returns logits squeezed to (B,) (for B = 1 that
# broadcasts to exactly the expected (1, 1)); DCDiscriminator returns an empty (0, 1)
# tensor (for B = 1, torch.allclose(empty, expected) is True). Expected: shapes are
# checked exactly; these three score 0; Generator and DCGenerator keep their points.
_hw4_sample_noise = sample_noise
_Hw4Discriminator = Discriminator
_Hw4DCDiscriminator = DCDiscriminator


def sample_noise(batch_size, dim, generator=None):
    return _hw4_sample_noise(batch_size, dim, generator=generator).reshape(-1)


class Discriminator(_Hw4Discriminator):
    def forward(self, x):
        return super().forward(x).squeeze(1)


class DCDiscriminator(_Hw4DCDiscriminator):
    def forward(self, x):
        return super().forward(x)[:0]
