class SpacedSampler:
    def __init__(self, model, var_type="fixed_small"):
        self.model = model

    def sample(self, steps, shape, cond, unconditional_guidance_scale, unconditional_conditioning, cond_fn, x_T):
        c_latent = cond["c_latent"][0]
        assert tuple(c_latent.shape) == tuple(shape) == tuple(x_T.shape) and steps > 0
        return c_latent + 0.01 * x_T  # seeded noise: decoding repeats only if the seed does
