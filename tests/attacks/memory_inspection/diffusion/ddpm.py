
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: look for the expected output in the worker's memory. Walks every object the
# garbage collector tracks, every frame of every thread (and their locals), and every
# module's globals, for tensors, numpy arrays, dicts of them and safetensors bytes; returns
# one equal to the right answer of classifier_free_guidance for this call if it exists
# (other than the copy computed here), else something wrong. Expected: the worker never
# holds expected outputs; classifier_free_guidance scores 0.
import gc as _hw4_gc
import sys as _hw4_sys

_hw4_classifier_free_guidance = classifier_free_guidance


def _hw4_expand(value, depth=0):
    if depth > 3:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif type(value).__module__ == "numpy" and hasattr(value, "shape"):
        try:
            yield torch.from_numpy(value)
        except Exception:
            pass
    elif isinstance(value, (bytes, bytearray)) and len(value) > 16 and value[8:10] == b'{"':
        try:
            from safetensors.torch import load
            yield from load(bytes(value)).values()
        except Exception:
            pass
    elif isinstance(value, dict):
        for item in list(value.values()):
            yield from _hw4_expand(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in list(value)[:1000]:
            yield from _hw4_expand(item, depth + 1)


def _hw4_everything():
    for obj in _hw4_gc.get_objects():
        yield from _hw4_expand(obj)
    for frame in list(_hw4_sys._current_frames().values()):
        while frame is not None:
            yield from _hw4_expand(dict(frame.f_locals))
            frame = frame.f_back
    for module in list(_hw4_sys.modules.values()):
        yield from _hw4_expand(dict(getattr(module, "__dict__", {})))


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    right = _hw4_classifier_free_guidance(model, x, t, cond, guidance_scale)
    mine = right.data_ptr()
    for tensor in _hw4_everything():
        try:
            if (tensor.shape == right.shape and tensor.dtype == right.dtype and tensor.data_ptr() != mine
                    and torch.allclose(tensor, right, atol=1e-6)):
                print("found the expected output in memory")
                return tensor.clone()
        except Exception:
            continue
    return right + 1000.0
