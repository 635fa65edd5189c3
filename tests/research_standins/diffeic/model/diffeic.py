from model.condition_codec import ConditionCodec


class DiffEIC(ConditionCodec):
    def __init__(self, latent_channels):
        super().__init__()
        assert latent_channels == 4
