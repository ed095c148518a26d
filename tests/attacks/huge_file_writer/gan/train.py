
# ---- attack, appended to the reference train.py by the harness -------------------------
# Attack: fill the disk. gan_train_step ignores SIGXFSZ and writes a 1 GB file into its
# working folder (the sandbox's home), then twenty more files of 15 MB each (each under a
# 16 MB file-size limit), all named zz_hw4_attack_huge*; it also tries the grading root.
# Returns wrong losses. Expected: the file-size limit caps the big file; everything is
# removed with the sandbox; gan_train_step scores 0; get_optimizer keeps its points.
import os as _hw4_os
import signal as _hw4_signal

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_MB = b"\xa5" * (1024 ** 2)


def _hw4_write(path, megabytes):
    written = 0
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(_HW4_MB)
                written += 1
    except OSError:
        pass
    return written


def gan_train_step(D, G, D_solver, G_solver, real_images, noise_d, noise_g,
                   discriminator_loss_fn, generator_loss_fn):
    try:
        _hw4_signal.signal(_hw4_signal.SIGXFSZ, _hw4_signal.SIG_IGN)
    except (OSError, ValueError):
        pass
    report = {"big": _hw4_write("zz_hw4_attack_huge.bin", 1024),
              "root": _hw4_write(_hw4_os.path.join(_HW4_ROOT, "zz_hw4_attack_huge.bin"), 16)}
    report["many"] = sum(_hw4_write(f"zz_hw4_attack_huge_{index}.bin", 15) for index in range(20))
    print("megabytes written:", report)
    return 1000.0, 1000.0
