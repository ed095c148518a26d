
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: p_sample_loop allocates memory until it cannot: 64 MB blocks, each touched
# page by page, up to 2 GB in all (then it stops by itself), carrying on past every
# MemoryError; then asks torch for 2 GB more at once (4 GB at most in all). Returns a
# wrong value. Expected: the address-space limit refuses it (or the kernel kills it);
# p_sample_loop scores 0; every other function keeps its points.
_HW4_BLOCK = 64 * 1024 ** 2


def p_sample_loop(model, shape, sched, generator=None, return_all=False):
    hoard, refused = [], 0
    for _ in range(2 * 1024 ** 3 // _HW4_BLOCK):
        try:
            block = bytearray(_HW4_BLOCK)
            block[::4096] = b"\x01" * (_HW4_BLOCK // 4096)
            hoard.append(block)
        except MemoryError:
            refused += 1
    try:
        hoard.append(torch.ones(512 * 1024 ** 2))
    except (MemoryError, RuntimeError):
        refused += 1
    print(f"held {len(hoard)} blocks, refused {refused}")
    return torch.full(shape, 1000.0)
