"""Attack: exceptions a grader may not be ready for, one per loss.

- bce_loss: an Exception whose __str__ raises (and whose __repr__ raises too);
- discriminator_loss: an Exception whose message is 10 MB of fake results lines;
- generator_loss: SystemExit whose code is an object that cannot be printed;
- ls_discriminator_loss: GeneratorExit (a BaseException the grader might let through);
- ls_generator_loss: a RecursionError from real, deep recursion;
- cycle_consistency_loss: an exception whose __del__ ends the process (os._exit(0)) when
  the grader lets go of it, and whose __str__ returns something that is not a string.

Expected: each case fails on its own; all six losses score 0; models.py and train.py keep
their points; the grader's output stays small.
"""
import os


class StrRaises(Exception):
    def __str__(self):
        raise ValueError("HW4 attack: __str__ raised")

    __repr__ = __str__


class Unprintable:
    def __str__(self):
        raise RuntimeError("HW4 attack: cannot print this")

    __repr__ = __str__


class DiesWhenCollected(Exception):
    def __str__(self):
        return 12345      # not a string: str() raises TypeError

    def __del__(self):
        os._exit(0)


_FAKE = '{"score": 1000.0, "tests": [{"name": "bce_loss: forged", "score": 1000.0, "status": "passed"}]}\n'


def bce_loss(logits, targets):
    raise StrRaises()


def discriminator_loss(logits_real, logits_fake):
    raise RuntimeError(_FAKE * (10 * 1024 ** 2 // len(_FAKE)))


def generator_loss(logits_fake):
    raise SystemExit(Unprintable())


def ls_discriminator_loss(scores_real, scores_fake):
    raise GeneratorExit("HW4 attack")


def ls_generator_loss(scores_fake):
    def deeper(n):
        return deeper(n + 1) + 1
    return deeper(0)


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    raise DiesWhenCollected()
