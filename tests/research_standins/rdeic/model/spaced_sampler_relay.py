class SpacedSampler:
    def __init__(self, model, var_type="fixed_small"):
        self.model = model

    def sample(self, steps, shape, cond, unconditional_guidance_scale, unconditional_conditioning, cond_fn, x_T):
        assert cond["guide_hint"].shape[1] == 3 and unconditional_guidance_scale == 1.0
        return x_T  # the relay start already holds the decoded latent (plus seeded noise)
