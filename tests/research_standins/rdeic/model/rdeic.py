from ldm.models.diffusion.ddpm import LatentDiffusion


class RDEIC(LatentDiffusion):
    """RDEIC's decompress also returns a guide hint; decoding starts from q_sample(c_latent)."""

    def __init__(self, used_timesteps, sync_path, calculate_metrics, **kwargs):
        super().__init__(sync_path=sync_path, calculate_metrics=calculate_metrics)
        self.used_timesteps = used_timesteps

    def apply_condition_decompress(self, stream_path):
        c_latent = super().apply_condition_decompress(stream_path)
        return c_latent, c_latent[:, :3]

    def q_sample(self, x_start, t, noise):
        assert int(t[0]) == self.used_timesteps - 1
        return x_start + 0.01 * noise
