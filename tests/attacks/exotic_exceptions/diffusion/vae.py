"""Attack: exceptions a grader may not be ready for.

reparameterize raises a BaseException subclass (not an Exception) whose __str__,
__repr__ and __reduce__ raise, and whose args hold an object that cannot be printed;
kl_divergence raises KeyboardInterrupt; vae_loss raises SystemExit with odd codes (a huge
int, an object whose __str__ raises).

Expected: each failure is reported as this function's failure; the three score 0; the
other files keep their points.
"""
class Unprintable:
    def __str__(self):
        raise RuntimeError("no string for you")

    __repr__ = __str__


class Nasty(BaseException):
    def __str__(self):
        raise Nasty(Unprintable())

    __repr__ = __str__

    def __reduce__(self):
        raise Nasty(Unprintable())


def reparameterize(mu, logvar, eps=None):
    raise Nasty(Unprintable())


def kl_divergence(mu, logvar):
    raise KeyboardInterrupt("HW4 attack: Ctrl-C from inside a graded call")


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    if beta == 1.0:
        raise SystemExit(2 ** 100)
    raise SystemExit(Unprintable())
