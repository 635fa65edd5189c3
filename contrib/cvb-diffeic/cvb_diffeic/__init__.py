"""cvb plugin: DiffEIC (latent feature guidance + Stable Diffusion prior) from the user's checkout."""
