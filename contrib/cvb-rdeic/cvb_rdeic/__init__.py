"""cvb plugin: RDEIC (relay residual diffusion extreme image compression) from the user's checkout."""
