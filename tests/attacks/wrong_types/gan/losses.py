
# ---- attack, appended to the reference losses.py by the harness ------------------------
# Attack: the right loss values, as the wrong types: ls_discriminator_loss returns a 0-dim
# numpy array, ls_generator_loss a Python float, cycle_consistency_loss a one-element list.
# A grader that converts what it gets (np.asarray, float(), torch.as_tensor) would accept
# them, and would also never notice that backward() cannot work. Expected: only a 0-dim
# torch.Tensor attached to autograd is accepted; these three score 0; bce_loss,
# discriminator_loss and generator_loss keep their points.
_hw4_ls_discriminator_loss = ls_discriminator_loss
_hw4_ls_generator_loss = ls_generator_loss
_hw4_cycle_consistency_loss = cycle_consistency_loss


def ls_discriminator_loss(scores_real, scores_fake):
    return _hw4_ls_discriminator_loss(scores_real, scores_fake).detach().numpy()


def ls_generator_loss(scores_fake):
    return _hw4_ls_generator_loss(scores_fake).item()


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    return [_hw4_cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc).item()]
