from ldm.models.diffusion.ddpm import LatentDiffusion


class DiffEIC(LatentDiffusion):
    def __init__(self, latent_channels, sync_path, calculate_metrics, **kwargs):
        super().__init__(sync_path=sync_path, calculate_metrics=calculate_metrics)
        assert latent_channels == 4
