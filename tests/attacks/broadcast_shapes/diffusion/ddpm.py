
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: right values in shapes that broadcast against the expected one: a 0-dim tensor
# (q_posterior_mean), a tensor of shape (1,) (predict_start_from_noise), the right answer
# with an extra leading axis of 1 (classifier_free_guidance), and an empty tensor of shape
# (0,) (extract: torch.allclose(empty, anything) is True). Expected: shapes are checked
# exactly; these four functions score 0, the others keep their points.
_hw4_q_posterior_mean = q_posterior_mean
_hw4_predict_start_from_noise = predict_start_from_noise
_hw4_classifier_free_guidance = classifier_free_guidance
_hw4_extract = extract


def q_posterior_mean(x_start, x_t, t, sched):
    return _hw4_q_posterior_mean(x_start, x_t, t, sched).mean()


def predict_start_from_noise(x_t, t, noise, sched):
    return _hw4_predict_start_from_noise(x_t, t, noise, sched).reshape(-1)[:1].clone()


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    return _hw4_classifier_free_guidance(model, x, t, cond, guidance_scale).unsqueeze(0)


def extract(a, t, x_shape):
    import sys
    if sys._getframe(1).f_code.co_name.startswith("call_"):     # the grader calling extract directly
        return a.new_empty((0,))
    return _hw4_extract(a, t, x_shape)        # the reference functions above still work
